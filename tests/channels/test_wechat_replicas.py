"""Two app replicas sharing the real Redis: a WeChat retry that lands on the other
replica starts no second turn and reuses (or leaves to the push) the first one's answer."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

import pytest

from tests.channels.conftest import (
    OPENID,
    RecordingGateway,
    RedisFixture,
    running_channels,
    wechat_settings,
)
from tests.fakes.fake_wechat import FakeWeChat, WeChatCallbacks

pytestmark = pytest.mark.anyio


async def test_slow_turn_retried_on_another_replica_is_answered_once(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks, redis: RedisFixture
) -> None:
    gateway = RecordingGateway(delay_seconds=3.0)  # one backend behind both replicas
    settings = wechat_settings(
        fake_wechat,
        wechat_token,
        wechat_reply_budget_seconds=0.3,
        redis_key_prefix=redis.prefix,
    )
    async with AsyncExitStack() as stack:
        replica_a = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        replica_b = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        callback = callbacks.text(OPENID, "进度怎么样了", msg_id="24777000000000001")
        first = await replica_a.post_callback(callback.params, callback.body)
        retries = [await replica_b.post_callback(callback.params, callback.body) for _ in range(3)]
        sent_when_retries_answered = fake_wechat.messages_to(OPENID)
        await replica_a.runtime.drain()
        await replica_b.runtime.drain()

        keys = await redis.keys()
        decision = await redis.client.get(
            f"{redis.prefix}turn:wechat:msg:24777000000000001:decision"
        )

    assert first.text == "success"
    assert [r.text for r in retries] == ["success"] * 3
    # Each retry waited at most its budget, not for the turn; none ran a turn of its own.
    assert sent_when_retries_answered == []
    assert len(gateway.inbound) == 1
    assert fake_wechat.messages_to(OPENID) == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": "收到：进度怎么样了"}}
    ]
    assert f"{redis.prefix}dedup:wechat:msg:24777000000000001" in keys
    assert decision == b"push"


async def test_retry_on_another_replica_reuses_the_passive_reply_from_redis(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks, redis: RedisFixture
) -> None:
    gateway = RecordingGateway()
    settings = wechat_settings(fake_wechat, wechat_token, redis_key_prefix=redis.prefix)
    async with AsyncExitStack() as stack:
        replica_a = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        replica_b = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        callback = callbacks.text(OPENID, "你好", msg_id="24777000000000002")
        first = await replica_a.post_callback(callback.params, callback.body)
        retry = await replica_b.post_callback(callback.params, callback.body)
        await replica_a.runtime.drain()
        await replica_b.runtime.drain()
        stored = await redis.client.get(f"{redis.prefix}turn:wechat:msg:24777000000000002:result")
        ttl = await redis.client.pttl(f"{redis.prefix}turn:wechat:msg:24777000000000002:result")

    first_reply = callbacks.read_reply(first.content)
    retry_reply = callbacks.read_reply(retry.content)
    assert first_reply is not None and retry_reply is not None
    assert first_reply["Content"] == retry_reply["Content"] == "收到：你好"
    assert len(gateway.inbound) == 1
    assert len(gateway.outbound) == 1
    assert stored is not None
    assert json.loads(stored)["messages"][0]["text"] == "收到：你好"
    assert 0 < ttl <= settings.turn_result_ttl_seconds * 1000


async def test_numbered_buttons_are_shared_by_the_replicas(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks, redis: RedisFixture
) -> None:
    from channels.messages import Button, InboundMessage, OutboundMessage

    def bot(message: InboundMessage) -> list[OutboundMessage]:
        if message.text == "菜单":
            return [OutboundMessage(text="请选择：", buttons=(Button("报案", "/report_claim"),))]
        return [OutboundMessage(text=f"好的（{message.text}）")]

    gateway = RecordingGateway(reply=bot)
    settings = wechat_settings(fake_wechat, wechat_token, redis_key_prefix=redis.prefix)
    async with AsyncExitStack() as stack:
        replica_a = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        replica_b = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        menu = callbacks.text(OPENID, "菜单")
        await replica_a.post_callback(menu.params, menu.body)
        pick = callbacks.text(OPENID, "1")
        response = await replica_b.post_callback(pick.params, pick.body)
        await replica_a.runtime.drain()
        await replica_b.runtime.drain()

    reply = callbacks.read_reply(response.content)
    assert reply is not None and reply["Content"] == "好的（/report_claim）"
