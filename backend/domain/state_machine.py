"""The claim state machine, as pure code.

reported → documents_pending ⇄ under_review → approved | partially_approved | rejected
approved | partially_approved → paid → closed; rejected → closed
withdrawn: by the customer (or an agent for them) before any decision
reopened: from closed or rejected, always with a reason; then back to review or documents

Rejection is only ever made by a person (an adjuster), never by a rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.domain.types import Actor, ClaimStatus

S = ClaimStatus

TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    S.REPORTED: frozenset({S.DOCUMENTS_PENDING, S.WITHDRAWN}),
    S.DOCUMENTS_PENDING: frozenset({S.UNDER_REVIEW, S.WITHDRAWN}),
    S.UNDER_REVIEW: frozenset(
        {S.DOCUMENTS_PENDING, S.APPROVED, S.PARTIALLY_APPROVED, S.REJECTED, S.WITHDRAWN}
    ),
    S.APPROVED: frozenset({S.PAID}),
    S.PARTIALLY_APPROVED: frozenset({S.PAID}),
    S.REJECTED: frozenset({S.CLOSED, S.REOPENED}),
    S.PAID: frozenset({S.CLOSED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.WITHDRAWN: frozenset(),
    S.REOPENED: frozenset({S.UNDER_REVIEW, S.DOCUMENTS_PENDING, S.WITHDRAWN}),
}

# Who may cause a move into a status. A status not listed here may be entered by anyone.
ALLOWED_ACTORS: dict[ClaimStatus, frozenset[Actor]] = {
    S.REJECTED: frozenset({Actor.ADJUSTER}),
    S.PARTIALLY_APPROVED: frozenset({Actor.ADJUSTER}),
    S.APPROVED: frozenset({Actor.ADJUSTER, Actor.SYSTEM_RULE}),
    S.WITHDRAWN: frozenset({Actor.CUSTOMER, Actor.AGENT}),
    S.REOPENED: frozenset({Actor.ADJUSTER, Actor.AGENT}),
    S.PAID: frozenset({Actor.ADJUSTER, Actor.PAYMENT_SYSTEM}),
    S.CLOSED: frozenset({Actor.ADJUSTER, Actor.SYSTEM_RULE}),
}

# Moves that must carry a reason, so the audit trail can explain them.
REASON_REQUIRED: frozenset[ClaimStatus] = frozenset({S.REJECTED, S.REOPENED, S.WITHDRAWN})

DECIDED: frozenset[ClaimStatus] = frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.REJECTED})
OPEN: frozenset[ClaimStatus] = frozenset(
    {S.REPORTED, S.DOCUMENTS_PENDING, S.UNDER_REVIEW, S.REOPENED, S.APPROVED, S.PARTIALLY_APPROVED}
)


class IllegalTransition(ValueError):
    """A move the state machine does not allow; `code` is for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Transition:
    from_status: ClaimStatus
    to_status: ClaimStatus
    actor: Actor
    reason: str | None


def allowed_targets(status: ClaimStatus) -> frozenset[ClaimStatus]:
    return TRANSITIONS[status]


def transition(
    current: ClaimStatus, target: ClaimStatus, actor: Actor, reason: str | None = None
) -> Transition:
    """Check one move and return it; raise IllegalTransition with a clear reason otherwise."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final status)"
        raise IllegalTransition(
            "illegal_transition",
            f"A claim in status '{current}' cannot move to '{target}'; allowed: {allowed}.",
        )
    actors = ALLOWED_ACTORS.get(target)
    if actors is not None and actor not in actors:
        who = ", ".join(sorted(actors))
        raise IllegalTransition(
            "actor_not_allowed",
            f"Only {who} may move a claim to '{target}', not {actor}.",
        )
    cleaned = reason.strip() if reason else None
    if target in REASON_REQUIRED and not cleaned:
        raise IllegalTransition("reason_required", f"Moving a claim to '{target}' needs a reason.")
    return Transition(current, target, actor, cleaned)
