"""Adaptive dialogues with the trained model (tests/bot/dialogue.py): for each class of
issue 10, at least two customers who open with fixed messages and then answer whatever
the bot asks. Each passes when the claim in the backend has the expected type, date
and amount within a turn budget, and fails showing the whole transcript.

Slow-ish (the model loads once per module, about 20 s); run by `make test-bot`, which
trains the model first when the data changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import yaml

from actions.normalize import today_in_china
from tests.bot.dialogue import Chat, Customer, action_server, load_agent  # noqa: F401
from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import DOMAIN, ROOT

ZHANG = {"policy": "P2025000001", "id_last4": "1234", "confirm": "确认"}
INTENTS = {i if isinstance(i, str) else next(iter(i)) for i in DOMAIN["intents"]}


def ago(days: int) -> str:
    return (today_in_china() - timedelta(days=days)).isoformat()


@pytest.fixture(scope="module")
def agent() -> Iterator[Any]:
    yield load_agent()


@pytest.fixture
def chat(agent: Any, action_server: str) -> Chat:  # noqa: F811
    return Chat(agent, action_server, f"wechat:o{uuid.uuid4().hex[:20]}")


def the_claim(backend: FakeBackend) -> dict[str, Any]:
    [claim] = backend.claims.values()
    return claim


def assert_claim(
    backend: FakeBackend, chat: Chat, claim_type: str, incident_date: str, amount: str | None
) -> dict[str, Any]:
    assert len(backend.claims) == 1, f"expected one claim filed:\n{chat}"
    claim = the_claim(backend)
    amount_got = claim["claimed_amount"]
    got = (
        claim["claim_type"],
        claim["incident_date"],
        None if amount_got is None else Decimal(str(amount_got)),
    )
    want = (claim_type, incident_date, None if amount is None else Decimal(amount))
    assert got == want, f"claim {got}, expected {want}:\n{chat}"
    return claim


# ------------------------------------------------------------------ 1. short words, any state


async def test_report_alone_with_punctuation_then_answers(
    backend: FakeBackend, chat: Chat
) -> None:
    customer = Customer(
        chat,
        {**ZHANG, "type": "看病", "date": "大前天", "place": "社区医院",
         "story": "发烧咳嗽去输液了", "amount": "三千二"},
    )  # fmt: skip
    reply = await customer.say("报案。")
    assert "保单号" in reply, chat
    await customer.answer_until_filed(reply, budget=9)
    assert_claim(backend, chat, "medical", ago(3), "3200")
    assert backend.handoffs == []


async def test_typo_opening_and_the_button_title_typed_at_the_identity_question(
    backend: FakeBackend, chat: Chat
) -> None:
    customer = Customer(
        chat,
        {**ZHANG, "type": "医疗（看病/住院）", "date": "12月1号", "place": "市一医院",
         "story": "胃疼去看了急诊", "amount": "八百五"},
    )  # fmt: skip
    assert "保单号" in await customer.say("理陪🙏")
    again = await customer.say("我要报案")  # the greeting's own button, typed
    assert "没太明白" not in again and "保单号" in again, chat
    await customer.answer_until_filed(again, budget=10)
    claim = assert_claim(backend, chat, "medical", "2026-12-01", "850")
    assert claim["location"] == "市一医院"


# Titles that two buttons share, or whose intent the context decides: what the typed
# title does in that context is shown by a dialogue (see the test named).
BY_CONTEXT = {
    # The type of the checklist question; typed, "医疗" reads as a type (inform), and
    # the rule after action_required_documents shows that type's checklist
    # (test_checklist_type_typed_by_hand).
    ("医疗", "ask_required_documents"), ("车险", "ask_required_documents"),
    ("家财", "ask_required_documents"), ("意外", "ask_required_documents"),
}  # fmt: skip


async def test_every_button_title_typed_acts_like_its_button(agent: Any) -> None:
    wrong = []
    for response in DOMAIN["responses"].values():
        for variation in response:
            for button in variation.get("buttons") or []:
                intent = button["payload"].lstrip("/").split("{")[0]
                if (button["title"], intent) in BY_CONTEXT or intent not in INTENTS:
                    continue  # (not an intent of the bot: the app handles that payload)
                parsed = await agent.parse_message(button["title"])
                if parsed["intent"]["name"] != intent and not (
                    # A rating typed is read as a rating by the survey, whatever intent.
                    intent == "inform" and "rating" in button["payload"]
                ):
                    wrong.append((button["title"], intent, parsed["intent"]))
    assert wrong == []


async def test_checklist_type_typed_by_hand(backend: FakeBackend, chat: Chat) -> None:
    asked = await chat.say("要准备啥材料")
    assert "哪一类" in asked, chat
    checklist = await chat.say("车险")
    assert "驾驶证" in checklist and "事故认定书" in checklist, chat


# ------------------------------------------------------------------ 2. facts in any order


async def test_identity_and_story_in_the_first_message(backend: FakeBackend, chat: Chat) -> None:
    customer = Customer(chat, {**ZHANG, "place": "医院"})
    reply = await customer.say(
        "你好 我是张伟 保单号P2025000001 身份证后四位1234 前天在人民医院看门诊花了八百"
    )
    await customer.answer_until_filed(reply, budget=3)
    claim = assert_claim(backend, chat, "medical", ago(2), "800")
    assert claim["location"] == "人民医院"
    assert customer.asked == ["confirm"], chat  # nothing asked twice


async def test_story_given_to_the_type_question_is_kept(backend: FakeBackend, chat: Chat) -> None:
    customer = Customer(chat, {**ZHANG})
    await customer.say("我要报案")
    await customer.say("P2025000001")
    asked = await customer.say("1234")
    assert "哪一类" in asked, chat
    reply = await customer.say("前天在医院看门诊花了八百")
    await customer.answer_until_filed(reply, budget=6)
    claim = assert_claim(backend, chat, "medical", ago(2), "800")
    assert claim["description"] == "前天在医院看门诊花了八百"


async def test_story_told_while_we_verify_is_kept(backend: FakeBackend, chat: Chat) -> None:
    customer = Customer(chat, {**ZHANG, "place": "儿童医院"})
    assert "保单号" in await customer.say("报案")
    reply = await customer.say("孩子上周三发烧住院了 花了一万五千块上下")
    assert "保单号" in reply and "格式不对" not in reply, chat
    reply = await customer.say("P2025000001")
    reply = await customer.say("1234")
    await customer.answer_until_filed(reply, budget=7)
    this_monday = today_in_china() - timedelta(days=today_in_china().isoweekday() - 1)
    last_wednesday = (this_monday - timedelta(days=5)).isoformat()
    assert_claim(backend, chat, "medical", last_wednesday, "15000")
    assert "type" not in customer.asked and "amount" not in customer.asked, chat


# ------------------------------------------------------------------ 3. free-text story


async def test_a_short_story_gets_one_gentle_follow_up(backend: FakeBackend, chat: Chat) -> None:
    customer = Customer(
        chat,
        {**ZHANG, "type": "医疗", "date": "前天晚上", "place": "家附近的诊所",
         "story": "发烧", "more": "烧到39度 去诊所打了针", "amount": "2.3万"},
    )  # fmt: skip
    reply = await customer.say("我要报案")
    await customer.answer_until_filed(reply, budget=11)
    claim = assert_claim(backend, chat, "medical", ago(2), "23000")
    assert claim["description"] == "发烧，烧到39度 去诊所打了针"
    assert customer.asked.count("more") == 1, chat
    assert "请问需要办理什么" not in str(chat) and "没太明白" not in str(chat), chat


async def test_a_story_that_reads_like_a_question_is_still_the_story(
    backend: FakeBackend, chat: Chat
) -> None:
    customer = Customer(
        chat,
        {**ZHANG, "type": "医疗", "date": "头天", "place": "协和医院",
         "story": "在医院做了个胃镜 这个能报吗", "amount": "一千二"},
    )  # fmt: skip
    reply = await customer.say("理赔")
    await customer.answer_until_filed(reply, budget=10)
    claim = assert_claim(backend, chat, "medical", ago(1), "1200")
    assert "胃镜" in claim["description"]


# ------------------------------------------------------------------ 4. digressions, corrections


async def test_a_question_in_between_and_back_to_the_same_step(
    backend: FakeBackend, chat: Chat
) -> None:
    customer = Customer(
        chat,
        {**ZHANG, "type": "住院", "place": "人民医院", "story": "肺炎住了一周院",
         "amount": "一万二"},
    )  # fmt: skip
    reply = await customer.answer_until(await customer.say("我要报案"), "哪一类")
    asked = await customer.say("住院")
    assert "哪天" in asked, chat
    answered = await customer.say("理赔一般要多久")
    assert "日内" in answered and "哪天" in answered, chat  # answered, then the same question
    reply = await customer.say("上礼拜五")
    await customer.answer_until_filed(reply, budget=11)
    assert_claim(backend, chat, "medical", _last_weekday(5), "12000")


def _last_weekday(weekday: int) -> str:
    today = today_in_china()
    this_monday = today - timedelta(days=today.isoweekday() - 1)
    return (this_monday - timedelta(days=7) + timedelta(days=weekday - 1)).isoformat()


async def test_cancel_then_change_of_mind_resumes_with_what_was_said(
    backend: FakeBackend, chat: Chat
) -> None:
    customer = Customer(chat, {**ZHANG, "place": "人民医院", "story": "骨头疼去拍了片子"})
    await customer.answer_until(await customer.say("报案"), "哪一类")
    await customer.say("看门诊")
    await customer.say("前天")
    cancelled = await customer.say("算了不报了")
    assert "没有提交" in cancelled and "类型、日期" in cancelled, chat
    reply = await customer.say("要不还是报了吧")
    assert "哪一类" not in reply and "哪天" not in reply and "在哪里" in reply, chat
    customer.facts["amount"] = "五百"
    await customer.answer_until_filed(reply, budget=12)
    assert_claim(backend, chat, "medical", ago(2), "500")


async def test_corrections_at_a_step_and_at_the_summary(backend: FakeBackend, chat: Chat) -> None:
    customer = Customer(chat, {**ZHANG, "story": "摔了一跤去医院缝了针", "amount": "八百"})
    await customer.answer_until(await customer.say("我要报案"), "哪一类")
    await customer.say("医疗")
    asked = await customer.say("昨天")
    assert "在哪里" in asked, chat
    corrected = await customer.say("日期不对，是大前天")
    assert "在哪里" in corrected, chat  # changed, and the same question again
    summary = await customer.say("社区医院")
    while "核对" not in summary:
        summary = await customer.say(customer.facts["story" if "经过" in summary else "amount"])
    assert ago(3) in summary and "800.00" in summary, chat
    summary = await customer.say("金额改成一千五")
    assert "核对" in summary and "1,500.00" in summary, chat
    await customer.say("确认")
    assert_claim(backend, chat, "medical", ago(3), "1500")


# ------------------------------------------------------------------ 5. fallback ladder


async def test_the_ladder_offers_a_person_but_never_hands_off_by_itself(
    backend: FakeBackend, chat: Chat
) -> None:
    first = await chat.say("asdkjh qwe")
    assert "没太明白" in first and "[我要报案]" in first and "[转人工]" not in first, chat
    second = await chat.say("zzxxcc vbn")
    assert "[转人工]" in second and "[我要报案]" in second, chat
    third = await chat.say("qqqwww eee")
    assert "[转人工]" in third, chat
    assert backend.handoffs == [], chat
    customer = Customer(chat, {**ZHANG, "type": "医疗", "date": "前天", "place": "医院",
                               "story": "感冒去看了门诊", "amount": "三百"})  # fmt: skip
    reply = await customer.say("报案")
    await customer.answer_until_filed(reply, budget=9)
    assert_claim(backend, chat, "medical", ago(2), "300")
    assert backend.handoffs == []


async def test_not_understood_inside_the_form_asks_the_same_question(
    backend: FakeBackend, chat: Chat
) -> None:
    customer = Customer(chat, {**ZHANG, "type": "医疗", "place": "医院",
                               "story": "感冒去看了门诊", "amount": "三百"})  # fmt: skip
    await customer.answer_until(await customer.say("我要报案"), "哪一类")
    await customer.say("医疗")
    for gibberish in ("asdkjh qwe", "zzxxcc vbn"):
        reply = await customer.say(gibberish)
        assert "哪天" in reply, chat
    assert backend.handoffs == [], chat
    customer.facts["date"] = "前天"
    await customer.answer_until_filed(reply, budget=12)
    assert_claim(backend, chat, "medical", ago(2), "300")


def test_the_held_out_set_is_large_enough() -> None:
    data = yaml.safe_load((ROOT / "tests" / "nlu" / "heldout.yml").read_text(encoding="utf-8"))
    counts = {
        block["intent"]: len([line for line in block["examples"].splitlines() if line.strip()])
        for block in data["nlu"]
    }
    assert sum(counts.values()) >= 300 and min(counts.values()) >= 15, counts


async def test_only_a_question_has_an_faq_answer_chosen(agent: Any) -> None:
    """bot/nlu/faq_selector.py: the FAQ selector runs on questions only; its choice for
    a question is the ResponseSelector's."""
    asked = await agent.parse_message("理赔一般要多久")
    assert asked["intent"]["name"] == "faq"
    chosen = asked["response_selector"]["faq"]["response"]["intent_response_key"]
    assert chosen.startswith("faq/"), chosen
    told = await agent.parse_message("我要报案")
    assert told["intent"]["name"] == "report_claim"
    assert "faq" not in (told.get("response_selector") or {})
