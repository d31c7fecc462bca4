"""A handoff through the real processes: a WeChat customer asks for a person, waits in
the queue (the bot stays silent, the message reaches the agent), an agent accepts and
replies (a customer-service message at the fake WeChat API), hands back, and the bot
answers the customer's next "你好" again."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.stack import AGENT_PASSWORD, AGENT_USER, Stack
from tests.e2e.test_wechat_journey import Phone
from tests.fakes.fake_wechat import FakeWeChat

pytestmark = pytest.mark.e2e


class Agent:
    def __init__(self, stack: Stack) -> None:
        self.base = stack.app_url + "/api/v1/handoffs"
        login = httpx.post(
            stack.app_url + "/api/v1/staff/login",
            json={"username": AGENT_USER, "password": AGENT_PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        self.headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    def get(self, path: str = "", **params: Any) -> Any:
        r = httpx.get(self.base + path, headers=self.headers, params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = httpx.post(self.base + path, headers=self.headers, json=body or {}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


def _pushed(wechat: FakeWeChat, openid: str, words: str, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in wechat.messages_to(openid):
            content = str((message.get("text") or {}).get("content") or "")
            if words in content:
                return content
        time.sleep(0.2)
    raise AssertionError(f"nothing with {words!r} reached {openid}: {wechat.messages_to(openid)}")


def test_a_wechat_customer_is_served_by_an_agent_and_handed_back(
    stack: Stack, wechat: FakeWeChat
) -> None:
    phone = Phone(stack, wechat)
    phone.event("subscribe")
    asked = phone.text("转人工")
    assert "人工" in asked and "回到智能助手" in asked, asked  # they may leave the queue

    agent = Agent(stack)
    conversation_id = f"wechat:{phone.openid}"
    [waiting] = [h for h in agent.get()["items"] if h["conversation_id"] == conversation_id]
    assert waiting["status"] == "open" and waiting["channel"] == "wechat"

    # Waiting: the bot stays silent and the message is there for the agent.
    assert phone.text("我家水管爆了，地板泡了，能赔吗") == ""
    detail = agent.get(f"/{waiting['id']}")
    assert detail["transcript"][-1]["text"] == "我家水管爆了，地板泡了，能赔吗"
    assert detail["transcript"][-1]["sender"] == "customer"

    agent.post(f"/{waiting['id']}/accept")
    _pushed(wechat, phone.openid, "已接入")
    agent.post(f"/{waiting['id']}/messages", {"text": "您好，请先拍几张现场照片发给我"})
    _pushed(wechat, phone.openid, "请先拍几张现场照片")

    closed = agent.post(f"/{waiting['id']}/close", {"note": "已指导报案"})
    assert closed["status"] == "closed"
    _pushed(wechat, phone.openid, "智能助手继续为您服务")
    # The bot has the conversation again.
    assert "理赔" in phone.text("你好")
