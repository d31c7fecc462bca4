"""The bot knows what notices told the customer: the notice goes out with no call to Rasa,
and is appended to the tracker just before the customer's next turn, once. After a
closing notice the bot's survey question follows it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from backend.domain.types import NoticeKind
from channels.messages import InboundMessage
from tests.backend.fake_rasa import FakeRasa
from tests.backend.notifications.conftest import World, drain, new_openid
from tests.backend.notifications.test_worker import APPROVED, notice

pytestmark = pytest.mark.anyio

TOKEN = "rasa-api-token"


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    def answer(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"recipient_id": body["sender"], "text": "您好，请问需要办理什么？"}]

    with FakeRasa(answer, token=TOKEN).running() as fake:
        yield fake


def customer_writes(openid: str, text: str) -> InboundMessage:
    msg_id = uuid.uuid4().hex[:16]
    return InboundMessage(
        conversation_id=f"wechat:{openid}",
        channel="wechat",
        kind="text",
        sender_id=openid,
        text=text,
        platform_message_id=msg_id,
        dedup_key=msg_id,
    )


async def test_a_notice_reaches_the_tracker_before_the_customers_next_turn_once(
    world: World, rasa: FakeRasa
) -> None:
    openid = new_openid()
    world.bind("P2025000001", f"wechat:{openid}", last_message_ago=timedelta(hours=1))
    number = world.file_claim()
    notice(world, number, "approved", **APPROVED)

    async with world.services(rasa_url=rasa.url, rasa_token=TOKEN) as services:
        await drain(_worker(services))
        [pushed] = world.texts_to(openid)
        assert "审核通过" in pushed
        assert rasa.calls == []  # sending a notice costs Rasa nothing

        await services.gateway.handle_inbound(customer_writes(openid, "钱什么时候到"))
        await services.gateway.handle_inbound(customer_writes(openid, "好的谢谢"))

    conversation = f"wechat:{openid}"
    kinds = [(kind, who) for kind, who, _ in rasa.calls]
    assert kinds == [("events", conversation), ("turn", conversation), ("turn", conversation)]
    [events] = [body for kind, _, body in rasa.calls if kind == "events"]
    assert [(e["event"], e["text"]) for e in events] == [("bot", pushed)]


async def test_when_rasa_cannot_take_the_notice_it_goes_with_the_next_turn(
    world: World, rasa: FakeRasa
) -> None:
    openid = new_openid()
    world.bind("P2025000001", f"wechat:{openid}", last_message_ago=timedelta(hours=1))
    number = world.file_claim()
    notice(world, number, "approved", **APPROVED)

    async with world.services(rasa_url=rasa.url, rasa_token=TOKEN) as services:
        await drain(_worker(services))
        rasa.fail_api = 1
        await services.gateway.handle_inbound(customer_writes(openid, "钱什么时候到"))
        await services.gateway.handle_inbound(customer_writes(openid, "好的"))

    appended = [body for kind, _, body in rasa.calls if kind == "events"]
    assert len(appended) == 1 and "审核通过" in appended[0][0]["text"]
    assert [kind for kind, _, _ in rasa.calls] == ["turn", "events", "turn"]


async def test_the_survey_question_follows_the_closing_notice(world: World, rasa: FakeRasa) -> None:
    openid = new_openid()
    world.bind("P2025000001", f"wechat:{openid}", last_message_ago=timedelta(hours=1))
    number = world.file_claim()
    notice(world, number, NoticeKind.CLOSED.value)
    rasa.triggered_answers = [{"text": "想请您给这次理赔服务打个分：1到5分，5分最满意。"}]

    async with world.services(rasa_url=rasa.url, rasa_token=TOKEN) as services:
        await drain(_worker(services))

    closing, question = world.texts_to(openid)
    assert "已结案" in closing and "打个分" in question
    conversation = f"wechat:{openid}"
    # The tracker hears the closing notice first, then the survey starts.
    assert [(kind, who) for kind, who, _ in rasa.calls] == [
        ("events", conversation),
        ("trigger", conversation),
    ]
    assert rasa.calls[1][2] == {
        "name": "EXTERNAL_survey",
        "entities": {"claim_number": number},
    }


def _worker(services: Any) -> Any:
    from backend.notifications.service import NotificationService

    return NotificationService(services, owner="worker-test")
