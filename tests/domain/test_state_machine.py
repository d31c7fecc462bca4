from __future__ import annotations

import itertools

import pytest

from backend.domain.state_machine import IllegalTransition, transition
from backend.domain.types import Actor, ClaimStatus

S = ClaimStatus

# The lifecycle as the business describes it, written out independently of the
# implementation's table so a slip in either shows up here.
LEGAL: dict[tuple[ClaimStatus, ClaimStatus], Actor] = {
    (S.REPORTED, S.DOCUMENTS_PENDING): Actor.SYSTEM_RULE,
    (S.REPORTED, S.WITHDRAWN): Actor.CUSTOMER,
    (S.DOCUMENTS_PENDING, S.UNDER_REVIEW): Actor.SYSTEM_RULE,
    (S.DOCUMENTS_PENDING, S.WITHDRAWN): Actor.CUSTOMER,
    (S.UNDER_REVIEW, S.DOCUMENTS_PENDING): Actor.ADJUSTER,
    (S.UNDER_REVIEW, S.APPROVED): Actor.ADJUSTER,
    (S.UNDER_REVIEW, S.PARTIALLY_APPROVED): Actor.ADJUSTER,
    (S.UNDER_REVIEW, S.REJECTED): Actor.ADJUSTER,
    (S.UNDER_REVIEW, S.WITHDRAWN): Actor.CUSTOMER,
    (S.APPROVED, S.PAID): Actor.PAYMENT_SYSTEM,
    (S.PARTIALLY_APPROVED, S.PAID): Actor.ADJUSTER,
    (S.REJECTED, S.CLOSED): Actor.ADJUSTER,
    (S.REJECTED, S.REOPENED): Actor.ADJUSTER,
    (S.PAID, S.CLOSED): Actor.ADJUSTER,
    (S.CLOSED, S.REOPENED): Actor.ADJUSTER,
    (S.REOPENED, S.UNDER_REVIEW): Actor.ADJUSTER,
    (S.REOPENED, S.DOCUMENTS_PENDING): Actor.ADJUSTER,
    (S.REOPENED, S.WITHDRAWN): Actor.CUSTOMER,
}


@pytest.mark.parametrize(("pair", "actor"), LEGAL.items(), ids=lambda v: str(v))
def test_every_legal_transition_is_allowed(
    pair: tuple[ClaimStatus, ClaimStatus], actor: Actor
) -> None:
    current, target = pair
    result = transition(current, target, actor, reason="客户要求")
    assert (result.from_status, result.to_status, result.actor) == (current, target, actor)


ILLEGAL = [p for p in itertools.product(S, S) if p not in LEGAL]


@pytest.mark.parametrize("pair", ILLEGAL, ids=lambda v: f"{v[0]}->{v[1]}")
def test_every_other_transition_is_refused_with_a_clear_reason(
    pair: tuple[ClaimStatus, ClaimStatus],
) -> None:
    current, target = pair
    with pytest.raises(IllegalTransition) as excinfo:
        transition(current, target, Actor.ADJUSTER, reason="test")
    assert excinfo.value.code == "illegal_transition"
    assert f"'{current}'" in str(excinfo.value) and f"'{target}'" in str(excinfo.value)


def test_no_rule_can_reject_a_claim() -> None:
    with pytest.raises(IllegalTransition) as excinfo:
        transition(S.UNDER_REVIEW, S.REJECTED, Actor.SYSTEM_RULE, reason="规则")
    assert excinfo.value.code == "actor_not_allowed"


@pytest.mark.parametrize("actor", [Actor.SYSTEM_RULE, Actor.ADJUSTER, Actor.PAYMENT_SYSTEM])
def test_only_the_customer_side_withdraws(actor: Actor) -> None:
    with pytest.raises(IllegalTransition):
        transition(S.DOCUMENTS_PENDING, S.WITHDRAWN, actor, reason="x")


def test_withdrawal_is_impossible_after_a_decision() -> None:
    for decided in (S.APPROVED, S.PARTIALLY_APPROVED, S.REJECTED, S.PAID):
        with pytest.raises(IllegalTransition):
            transition(decided, S.WITHDRAWN, Actor.CUSTOMER, reason="不想赔了")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reopen_and_reject_need_a_reason(reason: str | None) -> None:
    for current, target in ((S.CLOSED, S.REOPENED), (S.UNDER_REVIEW, S.REJECTED)):
        with pytest.raises(IllegalTransition) as excinfo:
            transition(current, target, Actor.ADJUSTER, reason=reason)
        assert excinfo.value.code == "reason_required"


def test_fast_track_rule_may_approve() -> None:
    assert transition(S.UNDER_REVIEW, S.APPROVED, Actor.SYSTEM_RULE).to_status == S.APPROVED


def test_reason_is_kept_trimmed() -> None:
    assert transition(S.CLOSED, S.REOPENED, Actor.ADJUSTER, "  新证据 ").reason == "新证据"


def test_withdrawn_is_final() -> None:
    for target in S:
        with pytest.raises(IllegalTransition):
            transition(S.WITHDRAWN, target, Actor.ADJUSTER, reason="x")
