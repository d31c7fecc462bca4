"""All ORM models, imported here so Alembic and the app see one metadata."""

from backend.models.base import Base
from backend.models.claim import (
    AppendOnlyViolation,
    ChecklistEntry,
    Claim,
    ClaimEvent,
    ClaimNumberSequence,
    RiskFlagRecord,
)
from backend.models.conversation import (
    Conversation,
    Handoff,
    HandoffStep,
    InboundTurn,
    Survey,
    TranscriptMessage,
    VerificationAttempt,
)
from backend.models.document import Document
from backend.models.notification import OutboxMessage, ScheduledJob, WorkerHeartbeat
from backend.models.policy import ChannelIdentity, Coverage, Policy, Policyholder
from backend.models.security import AuditEvent, LoginAttempt, PaymentCallback
from backend.models.staff import StaffSession, StaffUser

__all__ = [
    "AppendOnlyViolation",
    "AuditEvent",
    "Base",
    "ChannelIdentity",
    "ChecklistEntry",
    "Claim",
    "ClaimEvent",
    "ClaimNumberSequence",
    "Conversation",
    "Coverage",
    "Document",
    "Handoff",
    "HandoffStep",
    "InboundTurn",
    "LoginAttempt",
    "OutboxMessage",
    "PaymentCallback",
    "Policy",
    "Policyholder",
    "RiskFlagRecord",
    "ScheduledJob",
    "StaffSession",
    "StaffUser",
    "Survey",
    "TranscriptMessage",
    "VerificationAttempt",
    "WorkerHeartbeat",
]
