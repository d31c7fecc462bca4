"""Reporting a claim: the policy it goes on, idempotent creation (a retried report
returns the same claim), its checklist told at once, and its first risk flags."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.claims.moves import S, Who, move, record_event
from backend.claims.numbering import next_claim_number
from backend.claims.repository import claim_query, coverage_of, get_claim
from backend.claims.review import flag_risks
from backend.core.clock import local_today
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.domain import checklist as checklist_rules
from backend.domain import payout
from backend.domain.coverage import ReportRefused, check_reportable
from backend.domain.types import Actor, ClaimType, NoticeKind
from backend.models import ChecklistEntry, Claim, Policy
from backend.notifications.outbox import enqueue


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
    candidates = [p for p in policies if coverage_of(p, claim_type)] or policies
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
    record_event(
        session,
        claim,
        who,
        "reported",
        to_status=S.REPORTED,
        data={"checklist": [i.code for i in items]},
    )
    flag_risks(session, settings, claim, policy, today)
    # The whole checklist is told at once (Insurance Law Art. 22).
    move(session, settings, claim, S.DOCUMENTS_PENDING, Who(Actor.SYSTEM_RULE, "checklist"), None)
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
