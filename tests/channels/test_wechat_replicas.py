"""Two app replicas sharing the real Redis: a WeChat retry that lands on the other
replica starts no second turn and reuses (or leaves to the push) the first one's answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from contextlib import AsyncExitStack

import pytest

from channels.messages import InboundMessage, OutboundMessage
from channels.wechat.router import answer_wechat
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
    from channels.messages import Button

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


async def test_a_retry_takes_over_a_turn_whose_replica_died_before_storing_the_message(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks, redis: RedisFixture
) -> None:
    # Storing takes a while on replica A (a slow database, a media download), and A dies
    # before it has stored the message: nothing of it is left but the marks in Redis.
    gateway = RecordingGateway(delay_seconds=30.0)
    settings = wechat_settings(
        fake_wechat,
        wechat_token,
        wechat_reply_budget_seconds=0.3,
        redis_key_prefix=redis.prefix,
    )
    key = "wechat:msg:24777000000000004"
    async with AsyncExitStack() as stack:
        replica_a = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        replica_b = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        callback = callbacks.text(OPENID, "我要报案", msg_id="24777000000000004")
        first = asyncio.create_task(replica_a.post_callback(callback.params, callback.body))
        while not gateway.inbound:
            await asyncio.sleep(0.01)
        first.cancel()  # WeChat's connection to A is gone with A
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await replica_a.runtime.cancel_all()
        assert gateway.stored == []

        gateway.delay_seconds = 0
        retry = await replica_b.post_callback(callback.params, callback.body)
        await replica_b.runtime.drain()
        again = await replica_b.post_callback(callback.params, callback.body)
        await replica_b.runtime.drain()

    assert retry.text == "success" and again.text == "success"
    assert gateway.stored == [key]
    assert fake_wechat.messages_to(OPENID) == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": "收到：我要报案"}}
    ]
    assert gateway.answered_keys == [key]


async def test_a_retry_that_finds_the_message_stored_leaves_it_to_its_turn(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks, redis: RedisFixture
) -> None:
    # Replica A is alive but slow: WeChat gave up on its connection before A decided,
    # and A stores the message before the retry's run gets there. That run stops at the
    # store; A's turn answers, once.
    gateway = RecordingGateway(delay_seconds=0.6)
    settings = wechat_settings(
        fake_wechat, wechat_token, wechat_reply_budget_seconds=0.3, redis_key_prefix=redis.prefix
    )
    key = "wechat:msg:24777000000000005"
    async with AsyncExitStack() as stack:
        replica_a = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        replica_b = await stack.enter_async_context(
            running_channels(settings, gateway, redis=redis.client)
        )
        callback = callbacks.text(OPENID, "进度", msg_id="24777000000000005")
        first = asyncio.create_task(replica_a.post_callback(callback.params, callback.body))
        while not gateway.inbound:
            await asyncio.sleep(0.01)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        retry = await replica_b.post_callback(callback.params, callback.body)
        await replica_a.runtime.drain()
        await replica_b.runtime.drain()

    assert retry.text == "success"
    assert len(gateway.inbound) == 2  # the retry tried, and stopped at the store
    assert gateway.stored == [key]
    assert fake_wechat.messages_to(OPENID) == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": "收到：进度"}}
    ]
    assert gateway.answered_keys == [key]


async def test_a_passive_reply_the_replica_could_not_record_is_recorded_by_a_worker(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks, redis: RedisFixture
) -> None:
    class DatabaseAwayAfterTheReply(RecordingGateway):
        async def answered(
            self, message: InboundMessage, *, passive_reply: Sequence[OutboundMessage] = ()
        ) -> None:
            if not self.answered_keys and self.runtime is replica.runtime:
                raise RuntimeError("database away")
            await super().answered(message, passive_reply=passive_reply)

    gateway = DatabaseAwayAfterTheReply()
    settings = wechat_settings(fake_wechat, wechat_token, redis_key_prefix=redis.prefix)
    callback = callbacks.text(OPENID, "你好", msg_id="24777000000000006")
    async with running_channels(settings, gateway, redis=redis.client) as replica:
        response = await replica.post_callback(callback.params, callback.body)
        await replica.runtime.drain()
    reply = callbacks.read_reply(response.content)
    assert reply is not None and reply["Content"] == "收到：你好"
    assert gateway.answered_keys == [] and gateway.outbound == []  # the turn is open

    # A worker takes the open turn up (its lease ran out): it finds the reply sent.
    [stored] = gateway.inbound
    async with running_channels(settings, gateway, redis=redis.client) as worker:
        await answer_wechat(worker.runtime, gateway, stored)

    assert len(gateway.inbound) == 1  # no second bot turn
    assert fake_wechat.messages_to(OPENID) == []  # nothing pushed: the reply went out
    assert [(o["text"], o["route"]) for o in gateway.outbound] == [("收到：你好", "wechat_passive")]
    assert gateway.answered_keys == ["wechat:msg:24777000000000006"]
