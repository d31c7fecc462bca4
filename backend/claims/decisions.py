"""The adjusters' decisions (approve, partially approve, reject, request documents,
close, reopen), the customer's withdrawal and the rejection notice record. Each
writes an event and, where the customer should hear of it, an outbox row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.claims.moves import S, Who, move, record_event
from backend.claims.repository import checklist_entries, coverage_of, policy_of
from backend.claims.review import limit_left
from backend.core.clock import days_from_today, refresh_clocks
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.domain import checklist as checklist_rules
from backend.domain import payout
from backend.domain.types import NoticeKind
from backend.models import Claim
from backend.notifications.outbox import enqueue


def payout_for(session: Session, claim: Claim, amount: Decimal) -> payout.PayoutBreakdown:
    """The payout an approval of `amount` gives: the policy's coverage (deductible,
    ratio) and what is left of its limit after the other approved or paid claims. The
    console shows this before an adjuster confirms, so the figure shown is the one made."""
    coverage = coverage_of(policy_of(session, claim), claim.claim_type)
    if coverage is None:
        raise ValueError(f"claim {claim.claim_number} has no {claim.claim_type} coverage")
    return payout.payout_breakdown(
        amount, coverage.deductible, coverage.ratio, limit_left(session, claim, coverage)
    )


def approve(
    session: Session,
    settings: Settings,
    claim: Claim,
    who: Who,
    amount: Decimal,
    *,
    partial: bool = False,
    reason: str | None = None,
) -> Claim:
    if amount <= 0:
        raise ApiError(
            422, "validation_error", "核定金额必须大于零 / approved amount must be positive"
        )
    # Partial or full, an adjuster never approves more than the customer claimed.
    if claim.claimed_amount is not None and amount > claim.claimed_amount:
        raise ApiError(
            422,
            "amount_above_claimed",
            "核定金额不能超过申请金额 / approved amount exceeds the claimed amount",
        )
    if partial and not (reason and reason.strip()):
        raise ApiError(
            422, "reason_required", "部分赔付需要说明理由 / partial approval needs a reason"
        )
    breakdown = payout_for(session, claim, amount)
    claim.approved_amount = payout.to_fen(amount)
    claim.payout_amount = breakdown.payout
    target = S.PARTIALLY_APPROVED if partial else S.APPROVED
    move(
        session,
        settings,
        claim,
        target,
        who,
        reason,
        data={
            "approved_amount": str(claim.approved_amount),
            "payout": str(breakdown.payout),
            "deductible": str(breakdown.deductible),
            "limit_remaining": str(breakdown.limit_remaining),
        },
    )
    enqueue(
        session,
        claim,
        NoticeKind(target.value),
        approved_amount=str(claim.approved_amount),
        payout_amount=str(breakdown.payout),
        payment_due=days_from_today(settings, settings.payment_days),
        reason=(reason or "").strip() or None,
    )
    session.flush()
    return claim


def reject(session: Session, settings: Settings, claim: Claim, who: Who, reason: str) -> Claim:
    move(session, settings, claim, S.REJECTED, who, reason)
    enqueue(session, claim, NoticeKind.REJECTED, reason=reason.strip())
    session.flush()
    return claim


def record_rejection_notice(
    session: Session,
    settings: Settings,
    claim: Claim,
    who: Who,
    channel: str,
    reference: str | None,
) -> Claim:
    """The written rejection notice (拒绝赔偿通知书, Insurance Law Art. 24) went out.

    This stops the 3-day rejection-notice clock; until it is recorded the claim shows
    as due (and then overdue) to staff. Recorded once per rejection.
    """
    if claim.status != S.REJECTED:
        raise ApiError(
            409,
            "not_rejected",
            f"只有已拒赔的案件才需要拒赔通知 / the claim is {claim.status.value}, not rejected",
            status=claim.status.value,
        )
    if claim.rejection_notified_at is not None:
        raise ApiError(
            409,
            "rejection_notice_already_recorded",
            "拒赔通知已登记过 / the rejection notice was already recorded "
            f"({claim.rejection_notified_at.isoformat()})",
        )
    now = datetime.now(UTC)
    claim.rejection_notified_at = now
    claim.updated_at = now
    refresh_clocks(settings, claim)
    data: dict[str, Any] = {"channel": channel}
    if reference:
        data["reference"] = reference.strip()
    record_event(session, claim, who, "rejection_notice_sent", data=data)
    session.flush()
    return claim


def request_documents(
    session: Session,
    settings: Settings,
    claim: Claim,
    who: Who,
    item_codes: Sequence[str],
    reason: str,
) -> Claim:
    if not reason.strip():
        raise ApiError(422, "reason_required", "补充材料需要说明理由 / a reason is required")
    entries = checklist_entries(session, claim)
    try:
        checklist_rules.ensure_can_request(list(entries), item_codes)
    except checklist_rules.ChecklistError as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    if not item_codes:
        raise ApiError(422, "validation_error", "请指明需要补充的材料 / name the items")
    for code in item_codes:
        entries[code].received = False
        entries[code].rerequested_reason = reason.strip()
    if claim.status != S.DOCUMENTS_PENDING:
        move(
            session,
            settings,
            claim,
            S.DOCUMENTS_PENDING,
            who,
            reason,
            data={"items": list(item_codes)},
        )
    else:
        record_event(
            session,
            claim,
            who,
            "documents_requested",
            reason=reason,
            data={"items": list(item_codes)},
        )
    claim.documents_completed_at = None
    claim.documents_requested_at = datetime.now(UTC)
    claim.document_reminders_sent = 0
    refresh_clocks(settings, claim)
    enqueue(
        session,
        claim,
        NoticeKind.DOCUMENTS_REQUESTED,
        reason=reason.strip(),
        missing=[{"code": c, "name": entries[c].name} for c in item_codes],
    )
    session.flush()
    return claim


def close(
    session: Session, settings: Settings, claim: Claim, who: Who, reason: str | None = None
) -> Claim:
    move(session, settings, claim, S.CLOSED, who, reason)
    enqueue(session, claim, NoticeKind.CLOSED)
    session.flush()
    return claim


def reopen(session: Session, settings: Settings, claim: Claim, who: Who, reason: str) -> Claim:
    move(session, settings, claim, S.REOPENED, who, reason)
    claim.documents_completed_at = None
    claim.approved_at = None
    claim.decided_at = None
    claim.rejected_at = None
    claim.rejection_notified_at = None
    claim.documents_requested_at = datetime.now(UTC)
    claim.document_reminders_sent = 0
    refresh_clocks(settings, claim)
    enqueue(session, claim, NoticeKind.REOPENED, reason=reason.strip())
    session.flush()
    return claim


def withdraw(session: Session, settings: Settings, claim: Claim, who: Who, reason: str) -> Claim:
    move(session, settings, claim, S.WITHDRAWN, who, reason)
    enqueue(session, claim, NoticeKind.WITHDRAWN)
    session.flush()
    return claim
