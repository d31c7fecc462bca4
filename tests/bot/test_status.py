import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.status import ActionClaimStatus
from backend.domain.types import ClaimStatus
from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import (
    CONVERSATION,
    make_tracker,
    render,
    responses,
    slot_changes,
    user_event,
)

VERIFIED = {"verified": True}


async def test_all_claims_in_plain_words(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    pending = backend.add_claim(
        CONVERSATION, received=("id_card", "invoice", "itemized_bill"), incident_date="2026-11-20"
    )
    approved = backend.add_claim(
        CONVERSATION,
        status="approved",
        incident_date="2026-10-02",
        approved_amount="2800.00",
        deadlines={"decision_due": None, "payment_due": "2026-11-30"},
        received=("id_card", "invoice", "itemized_bill", "diagnosis_certificate", "bank_card"),
    )
    await ActionClaimStatus().run(
        dispatcher,
        make_tracker(text="我的理赔怎么样了", intent="query_claim_status", slots=VERIFIED),
        {},
    )
    assert render(dispatcher) == [
        "您共有 2 笔理赔：",
        f"理赔 {pending['claim_number']}（2026-11-20 出险）：材料还没齐，还缺：诊断证明、银行卡。拍照发给我就能补交；材料齐全后30日内给出审核结果。",
        f"理赔 {approved['claim_number']}：审核通过，核定赔付 ¥2,800.00，最晚 2026-11-30 前打到您的银行卡（达成赔付协议后10日内）。",
    ]
    assert {
        call.headers["X-Conversation-Id"]
        for call in backend.requests
        if call.path != "/settings/public"
    } == {CONVERSATION}


async def test_one_claim_by_number_even_when_asked_before_verification(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    backend.add_claim(CONVERSATION)
    wanted = backend.add_claim(
        CONVERSATION,
        status="under_review",
        deadlines={"decision_due": "2026-12-25", "payment_due": None},
        received=("id_card", "invoice", "itemized_bill", "diagnosis_certificate", "bank_card"),
    )
    history = [
        user_event(f"{wanted['claim_number']}怎么样了", "query_claim_status"),
        user_event("P2025000001", "inform"),
    ]
    await ActionClaimStatus().run(
        dispatcher, make_tracker(text="1234", intent="inform", slots=VERIFIED, history=history), {}
    )
    assert render(dispatcher) == [
        f"理赔 {wanted['claim_number']}（2026-11-24 出险）：材料已齐，正在审核。按规定最晚 2026-12-25 前给您结果，您不用再做什么。"
    ]


async def test_unknown_or_foreign_claim_number(
    backend: FakeBackend, dispatcher: CollectingDispatcher
) -> None:
    backend.bind(CONVERSATION)
    tracker = make_tracker(
        text="CL209901010001进度",
        intent="query_claim_status",
        entities=[{"entity": "claim_number", "value": "CL209901010001"}],
        slots=VERIFIED,
    )
    await ActionClaimStatus().run(dispatcher, tracker, {})
    assert render(dispatcher) == [
        "没找到您名下的理赔 CL209901010001，请核对一下理赔号（CL开头加12位数字）。"
    ]


async def test_no_claims_yet(backend: FakeBackend, dispatcher: CollectingDispatcher) -> None:
    backend.bind(CONVERSATION)
    await ActionClaimStatus().run(
        dispatcher, make_tracker(text="查进度", intent="query_claim_status", slots=VERIFIED), {}
    )
    assert responses(dispatcher) == ["utter_no_claims"]


@pytest.mark.parametrize("status", [*(status.value for status in ClaimStatus), "mystery"])
async def test_every_status_has_words(backend: FakeBackend, status: str) -> None:
    """Every status of the shared vocabulary, and one newer than this action server."""
    backend.bind(CONVERSATION)
    for missing in ((), ("bank_card",)):
        backend.claims.clear()
        received = tuple(
            code for code in ("id_card", "invoice", "itemized_bill", "diagnosis_certificate",
                              "bank_card") if code not in missing
        )  # fmt: skip
        backend.add_claim(
            CONVERSATION,
            status=status,
            received=received,
            approved_amount="1000.00",
            payout_amount="1000.00",
        )
        dispatcher = CollectingDispatcher()
        await ActionClaimStatus().run(
            dispatcher, make_tracker(text="进度", intent="query_claim_status", slots=VERIFIED), {}
        )
        [said] = render(dispatcher)
        assert "理赔 CL" in said


async def test_backend_trouble_and_lost_binding(backend: FakeBackend) -> None:
    backend.broken = {"/claims": "hang"}
    dispatcher = CollectingDispatcher()
    await ActionClaimStatus().run(
        dispatcher, make_tracker(text="查进度", intent="query_claim_status", slots=VERIFIED), {}
    )
    assert render(dispatcher) == ["系统开小差了，暂时没办成，请稍后再试；着急的话可以说“转人工”。"]

    backend.broken = {}
    dispatcher = CollectingDispatcher()
    events = await ActionClaimStatus().run(
        dispatcher, make_tracker(text="查进度", intent="query_claim_status", slots=VERIFIED), {}
    )
    assert responses(dispatcher) == ["utter_identity_expired"]
    assert slot_changes(events) == {"verified": False}
