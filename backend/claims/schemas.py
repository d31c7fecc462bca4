from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from backend.domain.types import ClaimStatus, ClaimType

Money = Decimal


class ClaimCheckIn(BaseModel):
    claim_type: ClaimType
    incident_date: date
    policy_number: str | None = Field(default=None, pattern=r"^[Pp]\d{10}$")


class ClaimCheckOut(BaseModel):
    ok: bool
    policy_number: str


class ClaimIn(BaseModel):
    claim_type: ClaimType
    incident_date: date
    location: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=2000)
    claimed_amount: Money | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    inpatient: bool = False
    policy_number: str | None = Field(default=None, pattern=r"^[Pp]\d{10}$")


class ChecklistItemOut(BaseModel):
    code: str
    name: str
    received: bool
    document_ids: list[str] = []
    rerequested_reason: str | None = None


class MissingItemOut(BaseModel):
    code: str
    name: str


class RiskFlagOut(BaseModel):
    code: str
    reason: str


class DeadlineOut(BaseModel):
    name: str
    due: date
    done_on: date | None
    overdue: bool
    soon_due: bool


class DeadlinesOut(BaseModel):
    decision_due: date | None = None
    payment_due: date | None = None
    rejection_notice_due: date | None = None
    advance_payment_flag: bool = False
    items: list[DeadlineOut] = []


class EventOut(BaseModel):
    actor: str
    actor_id: str
    kind: str
    from_status: str | None
    to_status: str | None
    reason: str | None
    data: dict[str, Any]
    created_at: datetime


class DocumentOut(BaseModel):
    document_id: str
    item_code: str | None
    media_type: str
    size: int
    sha256: str
    created_at: datetime


class ClaimOut(BaseModel):
    claim_number: str
    policy_number: str
    claim_type: ClaimType
    status: ClaimStatus
    incident_date: date
    location: str
    description: str
    claimed_amount: Money | None
    approved_amount: Money | None
    payout_amount: Money | None
    fast_track: bool
    checklist: list[ChecklistItemOut]
    missing: list[MissingItemOut]
    deadlines: DeadlinesOut
    created_at: datetime
    updated_at: datetime
    # Staff only: internal risk warnings, the audit trail and the documents.
    risk_flags: list[RiskFlagOut] | None = None
    events: list[EventOut] | None = None
    documents: list[DocumentOut] | None = None


class ClaimListOut(BaseModel):
    items: list[ClaimOut]


class QueueRowOut(BaseModel):
    claim_number: str
    status: ClaimStatus
    claim_type: ClaimType
    policy_number: str
    holder_name: str
    claimed_amount: Money | None
    reported_on: date
    fast_track: bool
    risk_codes: list[str]
    next_due_on: date | None
    next_due_clock: Literal["decision", "payment", "rejection_notice"] | None
    overdue: bool
    days_left: int | None


class QueuePageOut(BaseModel):
    rows: list[QueueRowOut]
    total: int
    page: int
    page_size: int


class ApproveIn(BaseModel):
    amount: Money = Field(gt=0, max_digits=14, decimal_places=2)
    reason: str | None = Field(default=None, max_length=2000)


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class OptionalReasonIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class RequestDocumentsIn(BaseModel):
    items: list[str] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=2000)


class MarkPaidIn(BaseModel):
    reference: str | None = Field(default=None, max_length=100)


class RejectionNoticeIn(BaseModel):
    """How the written rejection notice reached the customer."""

    channel: Literal["letter", "email", "sms", "wechat", "in_person"]
    reference: str | None = Field(default=None, max_length=100)


class AttachIn(BaseModel):
    item_code: str = Field(min_length=1, max_length=40)
