"""A signed query string seen once (in a log, at a proxy) must not carry other bodies:
in plain mode WeChat's signature covers token, timestamp and nonce, never the body."""

from __future__ import annotations

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

VICTIM = "oVictim000000000000000000000"


async def test_a_signed_query_string_with_another_body_is_refused(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        genuine = callbacks.text(OPENID, "你好")
        assert (await h.post_callback(genuine.params, genuine.body)).status_code == 200
        # The attacker keeps the logged query string and posts another customer's message.
        forged = callbacks.text(VICTIM, "我要把理赔款转到新账户")
        response = await h.post_callback(genuine.params, forged.body)
        await h.runtime.drain()

    assert response.status_code == 403
    assert [m.sender_id for m in gateway.inbound] == [OPENID]
    assert fake_wechat.messages_to(VICTIM) == []


async def test_wechat_retry_of_the_same_message_is_still_answered(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks
) -> None:
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        callback = callbacks.text(OPENID, "进度")
        first = await h.post_callback(callback.params, callback.body)
        retry = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    assert first.status_code == retry.status_code == 200
    assert callbacks.read_reply(retry.content) == callbacks.read_reply(first.content)
    assert len(gateway.inbound) == 1


async def test_replay_is_refused_on_another_replica_sharing_redis(
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
        genuine = callbacks.text(OPENID, "你好")
        assert (await replica_a.post_callback(genuine.params, genuine.body)).status_code == 200
        forged = callbacks.text(VICTIM, "改手机号")
        response = await replica_b.post_callback(genuine.params, forged.body)
        await replica_a.runtime.drain()
        await replica_b.runtime.drain()

    assert response.status_code == 403
    assert [m.sender_id for m in gateway.inbound] == [OPENID]


@pytest.mark.parametrize("create_time", ["99999999999999999999", "9" * 400, "²"])
async def test_create_time_out_of_range_is_a_400_not_a_crash(
    fake_wechat: FakeWeChat, wechat_token: str, callbacks: WeChatCallbacks, create_time: str
) -> None:
    gateway = RecordingGateway()
    async with running_channels(wechat_settings(fake_wechat, wechat_token), gateway) as h:
        xml = (
            "<xml><ToUserName>gh_0123456789ab</ToUserName>"
            f"<FromUserName>{OPENID}</FromUserName><CreateTime>{create_time}</CreateTime>"
            "<MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId></xml>"
        )
        callback = callbacks.sign(xml, openid=OPENID)
        response = await h.post_callback(callback.params, callback.body)
        await h.runtime.drain()

    assert response.status_code == 400
    assert gateway.inbound == []
