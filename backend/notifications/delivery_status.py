"""A platform's later word on a notice (Twilio status callback, WeChat
TEMPLATESENDJOBFINISH), applied to its outbox row and, for a rejection, to the claim:
the Art. 24 rejection notice counts as sent when the customer has it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.clock import ClockSettings, refresh_clocks
from backend.domain.types import Actor, ClaimStatus, NoticeKind
from backend.models import Claim, ClaimEvent, OutboxMessage

log = logging.getLogger(__name__)

NOTIFIER = "notifications"
_DELIVERED = {"delivered", "read"}
_FAILED = {"undelivered", "failed", "canceled"}


def record_rejection_delivered(
    session: Session, settings: ClockSettings, row: OutboxMessage
) -> None:
    """The rejection notice reached the customer: stop the 3-day clock (once)."""
    if row.kind != NoticeKind.REJECTED.value or row.claim_id is None:
        return
    claim = session.get(Claim, row.claim_id)
    if claim is None or claim.status != ClaimStatus.REJECTED or claim.rejection_notified_at:
        return
    now = datetime.now(UTC)
    claim.rejection_notified_at = now
    claim.updated_at = now
    refresh_clocks(settings, claim)
    session.add(
        ClaimEvent(
            claim_id=claim.id,
            actor=Actor.SYSTEM_RULE,
            actor_id=NOTIFIER,
            kind="rejection_notice_sent",
            data={
                "channel": row.route or "",
                "reference": row.platform_message_id or f"outbox:{row.id}",
            },
        )
    )


def notice_failed_event(session: Session, row: OutboxMessage, reason: str) -> None:
    if row.claim_id is None:
        return
    session.add(
        ClaimEvent(
            claim_id=row.claim_id,
            actor=Actor.SYSTEM_RULE,
            actor_id=NOTIFIER,
            kind="notice_failed",
            reason=reason,
            data={"notice": row.kind, "outbox_id": row.id},
        )
    )


def record_notice_status(
    session: Session,
    settings: ClockSettings,
    platform_message_id: str,
    status: str,
    error_code: str | None,
) -> None:
    row = session.scalars(
        select(OutboxMessage).where(OutboxMessage.platform_message_id == platform_message_id)
    ).first()
    if row is None or row.status not in ("sent", "delivered"):
        return
    if status in _DELIVERED and row.status != "delivered":
        row.status = "delivered"
        row.delivered_at = datetime.now(UTC)
        record_rejection_delivered(session, settings, row)
    elif status in _FAILED and row.status == "sent":
        row.status = "failed"
        row.last_error = f"{row.route}:{error_code or status}"
        notice_failed_event(session, row, row.last_error)
        log.warning("notice %s failed after sending: %s", row.id, row.last_error)
