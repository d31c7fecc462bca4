"""Automatic review and risk: the risk rules run when a claim is reported and as
documents arrive; when the documents are complete, small clear claims are approved
(fast track) and the rest go to the adjusters. Rules never reject."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.claims.moves import S, Who, move, record_event
from backend.claims.repository import coverage_of, missing_codes
from backend.core.clock import days_from_today, local_today
from backend.core.settings import Settings
from backend.domain import fast_track, payout, risk
from backend.domain.types import Actor, NoticeKind
from backend.models import Claim, Coverage, Document, Policy, RiskFlagRecord
from backend.notifications.outbox import enqueue

# Claims whose payout counts against the policy's shared limit.
LIMIT_CONSUMING = (S.APPROVED, S.PARTIALLY_APPROVED, S.PAID, S.CLOSED)


def limit_left(session: Session, claim: Claim, coverage: Coverage) -> Decimal:
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


def flag_risks(
    session: Session, settings: Settings, claim: Claim, policy: Policy, today: date
) -> list[risk.RiskFlag]:
    coverage = coverage_of(policy, claim.claim_type)
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
        limit_remaining=limit_left(session, claim, coverage),
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
            record_event(
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
    flags = flag_risks(session, settings, claim, policy, local_today(settings))
    all_flags = session.scalars(
        select(RiskFlagRecord).where(RiskFlagRecord.claim_id == claim.id)
    ).all()
    missing = missing_codes(session, claim)
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
        coverage = coverage_of(policy, claim.claim_type)
        assert coverage is not None
        amount = payout.payout(
            claim.claimed_amount,
            coverage.deductible,
            coverage.ratio,
            limit_left(session, claim, coverage),
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
        move(
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
            payment_due=days_from_today(settings, settings.payment_days),
            fast_track=True,
        )
    else:
        record_event(session, claim, rule, "sent_to_manual_review", reason="; ".join(reasons))
        enqueue(
            session,
            claim,
            NoticeKind.DOCUMENTS_COMPLETE,
            decision_due=days_from_today(settings, settings.decision_days),
        )
    session.flush()
    return decision
