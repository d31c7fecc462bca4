"""Who acts on a claim, and the two ways a claim changes: an event in its audit
trail (who, what, why, when) and a move in the state machine, which also stamps the
milestone and refreshes the stored legal clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.core.clock import refresh_clocks
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.domain.state_machine import DECIDED, IllegalTransition, transition
from backend.domain.types import Actor, ClaimStatus
from backend.models import Claim, ClaimEvent

S = ClaimStatus


@dataclass(frozen=True)
class Who:
    actor: Actor
    actor_id: str
    policyholder_id: int | None = None  # set for customers: they see only their own claims


def record_event(
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


def move(
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
    record_event(
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
