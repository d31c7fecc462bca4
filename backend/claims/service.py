"""Claim use cases. Services flush, never commit: the caller owns the transaction.

Every change writes a claim event (who, what, why, when) and, where the customer
should hear of it, an outbox row in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.claims.numbering import next_claim_number
from backend.core.clock import days_from_today as _days_from_today
from backend.core.clock import deadline_status as deadline_status  # re-exported for callers
from backend.core.clock import local_day as local_day  # re-exported for callers
from backend.core.clock import local_today, refresh_clocks
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.domain import checklist as checklist_rules
from backend.domain import fast_track, payout, risk
from backend.domain.coverage import ReportRefused, check_reportable
from backend.domain.state_machine import DECIDED, IllegalTransition, transition
from backend.domain.types import Actor, ClaimStatus, ClaimType, NoticeKind
from backend.models import (
    ChecklistEntry,
    Claim,
    ClaimEvent,
    Coverage,
    Document,
    PaymentCallback,
    Policy,
    RiskFlagRecord,
)
from backend.notifications.outbox import enqueue

logger = logging.getLogger(__name__)

S = ClaimStatus
# Claims whose payout counts against the policy's shared limit.
LIMIT_CONSUMING = (S.APPROVED, S.PARTIALLY_APPROVED, S.PAID, S.CLOSED)


@dataclass(frozen=True)
class Who:
    actor: Actor
    actor_id: str
    policyholder_id: int | None = None  # set for customers: they see only their own claims


# ---------------------------------------------------------------- loading


def claim_query() -> Any:
    return select(Claim).options(
        selectinload(Claim.checklist),
        selectinload(Claim.risk_flags),
        selectinload(Claim.policy).selectinload(Policy.coverages),
    )


def get_claim(session: Session, claim_number: str, who: Who, *, for_update: bool = False) -> Claim:
    stmt = claim_query().where(Claim.claim_number == claim_number)
    if who.policyholder_id is not None:
        stmt = stmt.join(Policy, Policy.id == Claim.policy_id).where(
            Policy.policyholder_id == who.policyholder_id
        )
    if for_update:
        stmt = stmt.with_for_update(of=Claim)
    claim = session.scalars(stmt).one_or_none()
    if claim is None:
        # Another customer's claim is "not found" too: never reveal that it exists.
        raise ApiError(404, "not_found", "没有找到这个理赔案件 / claim not found")
    return claim


def list_claims(
    session: Session,
    who: Who,
    *,
    status: ClaimStatus | None = None,
    claim_type: ClaimType | None = None,
) -> list[Claim]:
    stmt = claim_query().order_by(Claim.created_at.desc(), Claim.id.desc())
    if who.policyholder_id is not None:
        stmt = stmt.join(Policy, Policy.id == Claim.policy_id).where(
            Policy.policyholder_id == who.policyholder_id
        )
    if status is not None:
        stmt = stmt.where(Claim.status == status)
    if claim_type is not None:
        stmt = stmt.where(Claim.claim_type == claim_type)
    return list(session.scalars(stmt).all())


def events_of(session: Session, claim: Claim) -> list[ClaimEvent]:
    return list(
        session.scalars(
            select(ClaimEvent).where(ClaimEvent.claim_id == claim.id).order_by(ClaimEvent.id)
        ).all()
    )


def documents_of(session: Session, claim: Claim) -> list[Document]:
    return list(
        session.scalars(
            select(Document).where(Document.claim_id == claim.id).order_by(Document.created_at)
        ).all()
    )


# ---------------------------------------------------------------- reporting


def _coverage(policy: Policy, claim_type: ClaimType) -> Coverage | None:
    return next((c for c in policy.coverages if c.claim_type == claim_type), None)


def choose_policy(
    session: Session,
    settings: Settings,
    policyholder_id: int | None,
    claim_type: ClaimType,
    incident_date: date,
    policy_number: str | None,
) -> Policy:
    """The policy a new claim goes on, or a refusal with the most specific reason.

    A customer's claim goes on one of their own policies; staff filing for someone must
    name the policy (or the policyholder), never "the first policy that fits"."""
    if policyholder_id is None and not (policy_number and policy_number.strip()):
        raise ApiError(
            422,
            "policy_required",
            "工作人员报案须指明保单号或投保人 / staff must name the policy or the policyholder",
        )
    stmt = select(Policy).options(selectinload(Policy.coverages)).order_by(Policy.policy_number)
    if policy_number:
        stmt = stmt.where(Policy.policy_number == policy_number.strip().upper())
    if policyholder_id is not None:
        stmt = stmt.where(Policy.policyholder_id == policyholder_id)
    policies = list(session.scalars(stmt).all())
    if not policies:
        raise ApiError(404, "not_found", "没有找到这张保单 / policy not found")
    today = local_today(settings)
    candidates = [p for p in policies if _coverage(p, claim_type)] or policies
    refusal: ReportRefused | None = None
    for policy in candidates:
        try:
            check_reportable(
                policy.start_date,
                policy.end_date,
                [c.claim_type for c in policy.coverages],
                claim_type,
                incident_date,
                today,
                limitation_years=settings.limitation_years,
            )
            return policy
        except ReportRefused as exc:
            refusal = refusal or exc
    assert refusal is not None
    raise ApiError(422, refusal.code, refusal.message)


@dataclass(frozen=True)
class NewClaim:
    claim_type: ClaimType
    incident_date: date
    location: str
    description: str
    claimed_amount: Decimal | None = None
    inpatient: bool = False
    policy_number: str | None = None


def report_claim(
    session: Session, settings: Settings, who: Who, data: NewClaim, idempotency_key: str
) -> tuple[Claim, bool]:
    """Create a claim; the same idempotency key from the same caller returns the same
    claim. Returns (claim, created)."""
    scoped_key = f"{who.actor_id}:{idempotency_key}"
    fingerprint = report_fingerprint(data)
    existing = _by_idempotency_key(session, scoped_key)
    if existing is not None:
        return _same_report(existing, fingerprint), False
    policy = choose_policy(
        session,
        settings,
        who.policyholder_id,
        data.claim_type,
        data.incident_date,
        data.policy_number,
    )
    today = local_today(settings)
    savepoint = session.begin_nested()
    try:
        claim = _insert_claim(session, settings, who, policy, data, scoped_key, today)
        claim.idempotency_fingerprint = fingerprint
        session.flush()
        savepoint.commit()
    except IntegrityError:
        # A concurrent request with the same key won the race: return its claim.
        savepoint.rollback()
        existing = _by_idempotency_key(session, scoped_key)
        if existing is None:
            raise
        return _same_report(existing, fingerprint), False
    return get_claim(session, claim.claim_number, Who(who.actor, who.actor_id)), True


def report_fingerprint(data: NewClaim) -> str:
    """What the report says, normalised as it is stored: a retry hashes the same."""
    fields = {
        "claim_type": data.claim_type.value,
        "incident_date": data.incident_date.isoformat(),
        "location": data.location.strip(),
        "description": data.description.strip(),
        "claimed_amount": None
        if data.claimed_amount is None
        else str(payout.to_fen(data.claimed_amount)),
        "inpatient": bool(data.inpatient and data.claim_type == ClaimType.MEDICAL),
        "policy_number": (data.policy_number or "").strip().upper() or None,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _same_report(existing: Claim, fingerprint: str) -> Claim:
    """A retry returns the claim it made; the same key with other data is refused, as
    payment APIs do, rather than silently dropping the new data. Claims filed before
    fingerprints were kept (NULL) answer as before."""
    if existing.idempotency_fingerprint not in (None, fingerprint):
        raise ApiError(
            422,
            "idempotency_key_reused",
            "Idempotency-Key 已用于另一份报案 / this Idempotency-Key was used for a "
            "different report; use a new key for a new claim",
            claim_number=existing.claim_number,
        )
    return existing


def _by_idempotency_key(session: Session, scoped_key: str) -> Claim | None:
    return session.scalars(claim_query().where(Claim.idempotency_key == scoped_key)).one_or_none()


def _insert_claim(
    session: Session,
    settings: Settings,
    who: Who,
    policy: Policy,
    data: NewClaim,
    scoped_key: str,
    today: date,
) -> Claim:
    if data.claimed_amount is not None and data.claimed_amount < 0:
        raise ApiError(
            422, "validation_error", "金额不能为负 / claimed amount must not be negative"
        )
    claim = Claim(
        claim_number=next_claim_number(session, today),
        policy_id=policy.id,
        claim_type=data.claim_type,
        status=S.REPORTED,
        incident_date=data.incident_date,
        location=data.location.strip(),
        description=data.description.strip(),
        claimed_amount=data.claimed_amount,
        inpatient=data.inpatient and data.claim_type == ClaimType.MEDICAL,
        reported_by=who.actor_id,
        idempotency_key=scoped_key,
        reported_on=today,
    )
    session.add(claim)
    session.flush()
    items = checklist_rules.checklist_for(data.claim_type, inpatient=claim.inpatient)
    for position, item in enumerate(items):
        session.add(
            ChecklistEntry(claim_id=claim.id, code=item.code, name=item.name, position=position)
        )
    _event(
        session,
        claim,
        who,
        "reported",
        to_status=S.REPORTED,
        data={"checklist": [i.code for i in items]},
    )
    _flag_risks(session, settings, claim, policy, today)
    # The whole checklist is told at once (Insurance Law Art. 22).
    _move(session, settings, claim, S.DOCUMENTS_PENDING, Who(Actor.SYSTEM_RULE, "checklist"), None)
    claim.documents_requested_at = datetime.now(UTC)
    enqueue(
        session,
        claim,
        NoticeKind.CLAIM_FILED,
        missing=[{"code": i.code, "name": i.name} for i in items],
        decision_days=settings.decision_days,
    )
    session.flush()
    return claim


# ---------------------------------------------------------------- events and moves


def _event(
    session: Session,
    claim: Claim,
    who: Who,
    kind: str,
    *,
    from_status: ClaimStatus | None = None,
    to_status: ClaimStatus | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        ClaimEvent(
            claim_id=claim.id,
            actor=who.actor,
            actor_id=who.actor_id,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            data=data or {},
        )
    )


def _move(
    session: Session,
    settings: Settings,
    claim: Claim,
    target: ClaimStatus,
    who: Who,
    reason: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    try:
        step = transition(claim.status, target, who.actor, reason)
    except IllegalTransition as exc:
        raise ApiError(409, exc.code, exc.message, status=claim.status.value) from exc
    now = datetime.now(UTC)
    claim.status = target
    claim.updated_at = now
    if target in DECIDED:
        claim.decided_at = now
    if target in (S.APPROVED, S.PARTIALLY_APPROVED):
        claim.approved_at = now
    stamps = {
        S.REJECTED: "rejected_at",
        S.PAID: "paid_at",
        S.CLOSED: "closed_at",
        S.WITHDRAWN: "withdrawn_at",
        S.REOPENED: "reopened_at",
    }
    if target in stamps:
        setattr(claim, stamps[target], now)
    _event(
        session,
        claim,
        who,
        "status_changed",
        from_status=step.from_status,
        to_status=target,
        reason=step.reason,
        data=data,
    )
    refresh_clocks(settings, claim)


# ---------------------------------------------------------------- risk and review


def _limit_left(session: Session, claim: Claim, coverage: Coverage) -> Decimal:
    used = session.scalars(
        select(Claim.payout_amount).where(
            Claim.policy_id == claim.policy_id,
            Claim.claim_type == claim.claim_type,
            Claim.id != claim.id,
            Claim.status.in_(LIMIT_CONSUMING),
            Claim.payout_amount.is_not(None),
        )
    ).all()
    return payout.limit_remaining(coverage.limit, [u for u in used if u is not None])


def _flag_risks(
    session: Session, settings: Settings, claim: Claim, policy: Policy, today: date
) -> list[risk.RiskFlag]:
    coverage = _coverage(policy, claim.claim_type)
    assert coverage is not None
    other_claims_reported_on = session.scalars(
        select(Claim.reported_on).where(Claim.policy_id == policy.id, Claim.id != claim.id)
    ).all()
    own_hashes = set(
        session.scalars(select(Document.sha256).where(Document.claim_id == claim.id)).all()
    )
    other_hashes: set[str] = set()
    if own_hashes:
        other_hashes = set(
            session.scalars(
                select(Document.sha256).where(
                    Document.sha256.in_(own_hashes),
                    Document.claim_id.is_not(None),
                    Document.claim_id != claim.id,
                )
            ).all()
        )
    flags = risk.evaluate_risk(
        policy_start=policy.start_date,
        incident_date=claim.incident_date,
        reported_on=claim.reported_on,
        claimed_amount=claim.claimed_amount,
        limit_remaining=_limit_left(session, claim, coverage),
        document_hashes=own_hashes,
        hashes_in_other_claims=other_hashes,
        other_claims_reported_on=list(other_claims_reported_on),
    )
    known = (
        {f.code for f in claim.risk_flags}
        if _loaded(claim, "risk_flags")
        else set(
            session.scalars(select(RiskFlagRecord.code).where(RiskFlagRecord.claim_id == claim.id))
        )
    )
    for flag in flags:
        if flag.code not in known:
            session.add(RiskFlagRecord(claim_id=claim.id, code=flag.code, reason=flag.reason))
            _event(
                session,
                claim,
                Who(Actor.SYSTEM_RULE, "risk"),
                "risk_flagged",
                reason=flag.reason,
                data={"code": flag.code},
            )
    session.flush()
    return flags


def _loaded(obj: object, attr: str) -> bool:
    from sqlalchemy import inspect

    return attr not in inspect(obj).unloaded


def automatic_review(
    session: Session, settings: Settings, claim: Claim
) -> fast_track.ReviewDecision:
    """Runs when the documents are complete. Approves small clear claims (fast track);
    sends the rest to the adjusters. Never rejects."""
    policy = session.scalars(
        select(Policy).where(Policy.id == claim.policy_id).options(selectinload(Policy.coverages))
    ).one()
    flags = _flag_risks(session, settings, claim, policy, local_today(settings))
    all_flags = session.scalars(
        select(RiskFlagRecord).where(RiskFlagRecord.claim_id == claim.id)
    ).all()
    missing = _missing_codes(session, claim)
    decision = fast_track.decide_review(
        claim.claim_type,
        claim.claimed_amount,
        documents_complete=not missing,
        risk_flags=[risk.RiskFlag(f.code, f.reason) for f in all_flags] or flags,
        limits=fast_track.FastTrackLimits(
            medical=settings.fast_track_medical,
            accident=settings.fast_track_accident,
            auto=settings.fast_track_auto,
        ),
    )
    rule = Who(Actor.SYSTEM_RULE, "auto_review")
    reasons = list(decision.reasons)
    amount: Decimal | None = None
    if decision.fast_track:
        assert claim.claimed_amount is not None
        coverage = _coverage(policy, claim.claim_type)
        assert coverage is not None
        amount = payout.payout(
            claim.claimed_amount,
            coverage.deductible,
            coverage.ratio,
            _limit_left(session, claim, coverage),
        )
        if amount <= 0:
            # Nothing to pay after the deductible: a person should explain that.
            reasons.append("免赔额后无可赔金额，转人工 / nothing payable after the deductible")
            amount = None
    if amount is not None:
        assert claim.claimed_amount is not None
        claim.approved_amount = claim.claimed_amount
        claim.payout_amount = amount
        claim.fast_track = True
        _move(
            session,
            settings,
            claim,
            S.APPROVED,
            rule,
            "; ".join(reasons) or "小额快赔",
            data={"approved_amount": str(claim.claimed_amount), "payout": str(amount)},
        )
        enqueue(
            session,
            claim,
            NoticeKind.APPROVED,
            approved_amount=str(claim.claimed_amount),
            payout_amount=str(amount),
            payment_due=_days_from_today(settings, settings.payment_days),
            fast_track=True,
        )
    else:
        _event(session, claim, rule, "sent_to_manual_review", reason="; ".join(reasons))
        enqueue(
            session,
            claim,
            NoticeKind.DOCUMENTS_COMPLETE,
            decision_due=_days_from_today(settings, settings.decision_days),
        )
    session.flush()
    return decision


# ---------------------------------------------------------------- documents


def _missing_codes(session: Session, claim: Claim) -> list[str]:
    entries = sorted(_checklist_entries(session, claim).values(), key=lambda e: e.position)
    return [e.code for e in entries if not e.received]


def attach_document(
    session: Session,
    settings: Settings,
    claim: Claim,
    document_id: str,
    item_code: str,
    who: Who,
) -> Claim:
    document = session.get(Document, document_id)
    if document is None or (who.actor == Actor.CUSTOMER and document.uploaded_by != who.actor_id):
        raise ApiError(404, "document_not_found", "没有找到这份材料 / document not found")
    if document.claim_id is not None and document.claim_id != claim.id:
        raise ApiError(
            409, "document_in_use", "这份材料已用于另一个案件 / document belongs to another claim"
        )
    if claim.status not in (S.REPORTED, S.DOCUMENTS_PENDING, S.UNDER_REVIEW, S.REOPENED):
        raise ApiError(
            409,
            "claim_not_open",
            "这个案件现在不收材料 / this claim takes no documents now",
            status=claim.status.value,
        )
    entries = _checklist_entries(session, claim)
    try:
        checklist_rules.ensure_on_checklist(list(entries), item_code)
    except checklist_rules.ChecklistError as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    document.claim_id = claim.id
    document.checklist_code = item_code
    document.attached_at = datetime.now(UTC)
    entry = entries[item_code]
    entry.received = True
    entry.rerequested_reason = None
    claim.updated_at = datetime.now(UTC)
    _event(
        session,
        claim,
        who,
        "document_attached",
        data={"document_id": document.id, "item": item_code, "sha256": document.sha256},
    )
    session.flush()
    missing = [code for code, e in entries.items() if not e.received]
    if not missing and claim.status in (S.DOCUMENTS_PENDING, S.REOPENED):
        claim.documents_completed_at = datetime.now(UTC)
        _move(session, settings, claim, S.UNDER_REVIEW, Who(Actor.SYSTEM_RULE, "checklist"), None)
        automatic_review(session, settings, claim)
    elif missing:
        _flag_risks(session, settings, claim, _policy(session, claim), local_today(settings))
    session.flush()
    return get_claim(session, claim.claim_number, Who(who.actor, who.actor_id))


def _checklist_entries(session: Session, claim: Claim) -> dict[str, ChecklistEntry]:
    rows = session.scalars(select(ChecklistEntry).where(ChecklistEntry.claim_id == claim.id))
    return {entry.code: entry for entry in rows}


def _policy(session: Session, claim: Claim) -> Policy:
    return session.scalars(
        select(Policy).where(Policy.id == claim.policy_id).options(selectinload(Policy.coverages))
    ).one()


# ---------------------------------------------------------------- adjuster decisions


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
    policy = _policy(session, claim)
    coverage = _coverage(policy, claim.claim_type)
    assert coverage is not None
    breakdown = payout.payout_breakdown(
        amount, coverage.deductible, coverage.ratio, _limit_left(session, claim, coverage)
    )
    claim.approved_amount = payout.to_fen(amount)
    claim.payout_amount = breakdown.payout
    target = S.PARTIALLY_APPROVED if partial else S.APPROVED
    _move(
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
        payment_due=_days_from_today(settings, settings.payment_days),
        reason=(reason or "").strip() or None,
    )
    session.flush()
    return claim


def reject(session: Session, settings: Settings, claim: Claim, who: Who, reason: str) -> Claim:
    _move(session, settings, claim, S.REJECTED, who, reason)
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
    _event(session, claim, who, "rejection_notice_sent", data=data)
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
    entries = _checklist_entries(session, claim)
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
        _move(
            session,
            settings,
            claim,
            S.DOCUMENTS_PENDING,
            who,
            reason,
            data={"items": list(item_codes)},
        )
    else:
        _event(
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


def mark_paid(
    session: Session, settings: Settings, claim: Claim, who: Who, reference: str | None = None
) -> Claim:
    _move(
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


def close(
    session: Session, settings: Settings, claim: Claim, who: Who, reason: str | None = None
) -> Claim:
    _move(session, settings, claim, S.CLOSED, who, reason)
    enqueue(session, claim, NoticeKind.CLOSED)
    session.flush()
    return claim


def reopen(session: Session, settings: Settings, claim: Claim, who: Who, reason: str) -> Claim:
    _move(session, settings, claim, S.REOPENED, who, reason)
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
    _move(session, settings, claim, S.WITHDRAWN, who, reason)
    enqueue(session, claim, NoticeKind.WITHDRAWN)
    session.flush()
    return claim


# ---------------------------------------------------------------- payment


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
    _event(
        session,
        claim,
        Who(Actor.PAYMENT_SYSTEM, "payment_system"),
        "payment_failed",
        reason=status,
        data={"reference": reference},
    )
    enqueue(session, claim, NoticeKind.PAYMENT_FAILED, reference=reference)
    session.flush()
