"""Payment: marking a claim paid, and the payment system's callbacks (each outcome
applied once) and failures."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.claims.moves import S, Who, move, record_event
from backend.claims.repository import get_claim
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.domain.types import Actor, NoticeKind
from backend.models import Claim, PaymentCallback
from backend.notifications.outbox import enqueue

logger = logging.getLogger(__name__)


def mark_paid(
    session: Session, settings: Settings, claim: Claim, who: Who, reference: str | None = None
) -> Claim:
    move(
        session,
        settings,
        claim,
        S.PAID,
        who,
        None,
        data={"reference": reference} if reference else None,
    )
    enqueue(session, claim, NoticeKind.PAID, payout_amount=str(claim.payout_amount))
    session.flush()
    return claim


PAYMENT_SUCCEEDED = "succeeded"


def apply_payment_callback(
    session: Session, settings: Settings, claim_number: str, reference: str, status: str
) -> dict[str, str]:
    """Apply one payment outcome once: the same (reference, status) again, a retry or
    a replay, answers with the claim as it is and changes nothing."""
    who = Who(Actor.PAYMENT_SYSTEM, "payment_system")
    claim = get_claim(session, claim_number, who, for_update=True)
    applied = session.scalars(
        select(PaymentCallback).where(
            PaymentCallback.reference == reference, PaymentCallback.status == status
        )
    ).one_or_none()
    if applied is not None:
        if applied.claim_number != claim.claim_number:
            raise ApiError(
                409, "reference_in_use", "this payment reference belongs to another claim"
            )
        return {"claim_number": claim.claim_number, "status": claim.status.value}
    if status == PAYMENT_SUCCEEDED:
        if claim.status == S.PAID:
            # Paid before under another reference (or by an adjuster): nothing to move.
            return {"claim_number": claim.claim_number, "status": claim.status.value}
        mark_paid(session, settings, claim, who, reference)
    else:
        if claim.status not in (S.APPROVED, S.PARTIALLY_APPROVED):
            raise ApiError(
                409,
                "not_awaiting_payment",
                f"the claim is {claim.status.value}: a payment failure does not apply",
                status=claim.status.value,
            )
        record_payment_failure(session, claim, reference, status)
    savepoint = session.begin_nested()
    try:
        session.add(
            PaymentCallback(reference=reference, status=status, claim_number=claim.claim_number)
        )
        savepoint.commit()
    except IntegrityError:
        # The same callback, at the same moment, on another worker: that one applies it.
        savepoint.rollback()
        raise ApiError(409, "callback_in_progress", "this callback is being applied") from None
    return {"claim_number": claim.claim_number, "status": claim.status.value}


def record_payment_failure(session: Session, claim: Claim, reference: str, status: str) -> None:
    """A failed transfer is recorded for the adjusters (a claim event and a warning in
    the log) and told to the customer; the claim stays approved."""
    logger.warning(
        "payment failed for claim %s (reference %s): %s", claim.claim_number, reference, status
    )
    record_event(
        session,
        claim,
        Who(Actor.PAYMENT_SYSTEM, "payment_system"),
        "payment_failed",
        reason=status,
        data={"reference": reference},
    )
    enqueue(session, claim, NoticeKind.PAYMENT_FAILED, reference=reference)
    session.flush()
