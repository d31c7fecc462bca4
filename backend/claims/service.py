"""The claim use cases, by the names they had before the split. Import from the
modules instead:

- backend.claims.moves: Who, record_event, move (events and state-machine moves);
- backend.claims.reporting: NewClaim, choose_policy, report_claim (and idempotency);
- backend.claims.review: automatic_review, flag_risks, limit_left, LIMIT_CONSUMING;
- backend.claims.checklist: attach_document;
- backend.claims.decisions: approve, reject, request_documents, close, reopen,
  withdraw, record_rejection_notice;
- backend.claims.payment: mark_paid, apply_payment_callback, record_payment_failure;
- backend.claims.repository: claim_query, get_claim, events_of, documents_of, ...;
- backend.core.clock: local_today, local_day, deadline_status, refresh_clocks.

Kept only so that work in progress that still imports `backend.claims.service`
keeps running; nothing in the repository imports it. Delete it once nothing does.
"""

from __future__ import annotations

from backend.claims.checklist import attach_document
from backend.claims.decisions import (
    approve,
    close,
    record_rejection_notice,
    reject,
    reopen,
    request_documents,
    withdraw,
)
from backend.claims.moves import Who
from backend.claims.payment import (
    PAYMENT_SUCCEEDED,
    apply_payment_callback,
    mark_paid,
    record_payment_failure,
)
from backend.claims.reporting import NewClaim, choose_policy, report_claim, report_fingerprint
from backend.claims.repository import claim_query, documents_of, events_of, get_claim
from backend.claims.review import LIMIT_CONSUMING, automatic_review
from backend.core.clock import deadline_status, local_day, local_today

__all__ = [
    "LIMIT_CONSUMING",
    "PAYMENT_SUCCEEDED",
    "NewClaim",
    "Who",
    "apply_payment_callback",
    "approve",
    "attach_document",
    "automatic_review",
    "choose_policy",
    "claim_query",
    "close",
    "deadline_status",
    "documents_of",
    "events_of",
    "get_claim",
    "local_day",
    "local_today",
    "mark_paid",
    "record_payment_failure",
    "record_rejection_notice",
    "reject",
    "reopen",
    "report_claim",
    "report_fingerprint",
    "request_documents",
    "withdraw",
]
