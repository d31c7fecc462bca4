"""The WeChat API client against the fake WeChat server: the access token shared through
the real Redis, refreshed once and no more, never logged; typed errors."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr

from channels.store import KeyValueStore, MemoryStore, RedisStore
from channels.wechat.client import (
    WeChatApiClient,
    WeChatApiError,
    WeChatQuotaExceededError,
    WeChatTokenError,
    WeChatTransportError,
    WeChatWindowClosedError,
)
from tests.channels.conftest import OPENID, RedisFixture
from tests.fakes.fake_wechat import FakeWeChat

pytestmark = pytest.mark.anyio

SEND = "/cgi-bin/message/custom/send"


@asynccontextmanager
async def api_client(
    fake: FakeWeChat, store: KeyValueStore, *, timeout: float = 3.0, secret: str | None = None
) -> AsyncIterator[WeChatApiClient]:
    async with httpx.AsyncClient(timeout=timeout) as http:
        yield WeChatApiClient(
            app_id=fake.app_id,
            app_secret=SecretStr(secret or fake.app_secret),
            base_url=fake.base_url,
            http=http,
            store=store,
        )


async def test_the_token_is_fetched_once_and_shared_by_replicas_through_redis(
    fake_wechat: FakeWeChat, redis: RedisFixture
) -> None:
    async with (
        api_client(fake_wechat, RedisStore(redis.client, redis.prefix)) as replica_a,
        api_client(fake_wechat, RedisStore(redis.client, redis.prefix)) as replica_b,
    ):
        # Both replicas start cold and send at the same moment: one fetch, under a lock.
        await asyncio.gather(
            *(
                replica.send_text(OPENID, f"消息{i}")
                for i in range(5)
                for replica in (replica_a, replica_b)
            )
        )
        token_key = f"{redis.prefix}wechat:access_token:{fake_wechat.app_id}"
        cached = await redis.client.get(token_key)
        ttl = await redis.client.pttl(token_key)

    assert fake_wechat.token_fetches == 1
    assert fake_wechat.token_requests == [{"endpoint": "stable_token", "force_refresh": False}]
    assert len(fake_wechat.sent_messages) == 10
    assert isinstance(cached, bytes)
    assert {c.access_token for c in fake_wechat.calls_to(SEND)} == {cached.decode()}
    # Kept a little shorter than WeChat's 7200 s, so it is never used in its last minutes.
    assert 0 < ttl <= (7200 - 300) * 1000


async def test_a_token_rejected_again_after_one_refresh_gives_up_with_a_clear_error(
    fake_wechat: FakeWeChat, redis: RedisFixture
) -> None:
    async with api_client(fake_wechat, RedisStore(redis.client, redis.prefix)) as client:
        await client.send_text(OPENID, "预热")  # a cached token to begin with
        fetches_before = fake_wechat.token_fetches
        sends_before = len(fake_wechat.calls_to(SEND))
        fake_wechat.fail_next(40001, 1000, SEND)  # the platform keeps refusing every token

        with pytest.raises(WeChatTokenError) as raised:
            await client.send_text(OPENID, "你好")
        with pytest.raises(WeChatTokenError):
            await client.send_text(OPENID, "你好")

    # Per operation: the call, one refresh (normal mode returns the same token, so one
    # forced refresh), one retry. Then it stops: no loop.
    assert len(fake_wechat.calls_to(SEND)) - sends_before == 4
    assert fake_wechat.token_fetches - fetches_before <= 4
    assert raised.value.errcode == 40001
    assert "rejected again right after a refresh" in str(raised.value)


async def test_an_expired_token_is_refreshed_once_and_the_call_succeeds(
    fake_wechat: FakeWeChat,
) -> None:
    async with api_client(fake_wechat, MemoryStore()) as client:
        await client.send_text(OPENID, "第一条")
        fake_wechat.expire_token()
        await client.send_text(OPENID, "第二条")

    assert fake_wechat.token_fetches == 2
    assert [m["text"]["content"] for m in fake_wechat.sent_messages] == ["第一条", "第二条"]
    statuses = [c.access_token for c in fake_wechat.calls_to(SEND)]
    assert len(statuses) == 3 and statuses[1] == statuses[0] != statuses[2]


async def test_wrong_app_secret_is_a_token_error_without_retries(fake_wechat: FakeWeChat) -> None:
    async with api_client(fake_wechat, MemoryStore(), secret="wrong-secret") as client:
        with pytest.raises(WeChatTokenError) as raised:
            await client.send_text(OPENID, "你好")
    assert raised.value.errcode == 40125
    assert fake_wechat.token_fetches == 1
    assert fake_wechat.calls_to(SEND) == []


async def test_window_closed_and_quota_used_are_typed_errors(fake_wechat: FakeWeChat) -> None:
    fake_wechat.close_window("o_closed_window_user_000000001")
    fake_wechat.exhaust_quota("o_quota_used_user_00000000001")
    async with api_client(fake_wechat, MemoryStore()) as client:
        with pytest.raises(WeChatWindowClosedError) as closed:
            await client.send_text("o_closed_window_user_000000001", "理赔进度通知")
        with pytest.raises(WeChatQuotaExceededError) as quota:
            await client.send_text("o_quota_used_user_00000000001", "理赔进度通知")
    assert closed.value.errcode == 45015
    assert quota.value.errcode == 45047
    assert fake_wechat.sent_messages == []


async def test_server_errors_and_slow_answers_are_transport_errors(fake_wechat: FakeWeChat) -> None:
    async with api_client(fake_wechat, MemoryStore(), timeout=0.3) as client:
        await client.access_token()
        fake_wechat.fail_http(502, 1, SEND)
        with pytest.raises(WeChatTransportError) as bad_gateway:
            await client.send_text(OPENID, "你好")
        fake_wechat.delay(1.0, SEND)
        with pytest.raises(WeChatTransportError) as slow:
            await client.send_text(OPENID, "你好")
    assert bad_gateway.value.errmsg == "HTTP 502" and bad_gateway.value.request_sent
    assert slow.value.errmsg == "ReadTimeout" and slow.value.request_sent


async def test_refused_connection_says_the_request_was_not_sent() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with httpx.AsyncClient() as http:
        client = WeChatApiClient(
            app_id="wx0123456789abcdef",
            app_secret=SecretStr("secret"),
            base_url=f"http://127.0.0.1:{port}",
            http=http,
            store=MemoryStore(),
        )
        with pytest.raises(WeChatTransportError) as raised:
            await client.send_text(OPENID, "你好")
    assert raised.value.request_sent is False


async def test_the_access_token_never_appears_in_logs(
    fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Whatever the app's logging set-up did to these loggers, let everything through.
    for name in ("httpx", "httpcore", "channels"):
        caplog.set_level(logging.DEBUG, logger=name)
    async with api_client(fake_wechat, MemoryStore()) as client:
        await client.send_text(OPENID, "你好")
        fake_wechat.add_media("M1", b"jpeg")
        await client.download_media("M1")
        fake_wechat.fail_next(40001, 2, SEND)
        with pytest.raises(WeChatTokenError) as raised:
            await client.send_text(OPENID, "你好")
        fake_wechat.fail_http(500, 1, SEND)
        with pytest.raises(WeChatTransportError) as transport:
            await client.send_text(OPENID, "你好")
        token = await client.access_token()

    assert token and fake_wechat.app_secret
    logged = caplog.text + str(raised.value) + repr(raised.value) + str(transport.value)
    assert "access_token=***" in caplog.text  # httpx's request lines were redacted, not lost
    assert token not in logged
    assert fake_wechat.app_secret not in logged
    for tokens_used in {c.access_token for c in fake_wechat.api_calls}:
        assert tokens_used and tokens_used not in logged


async def test_template_message_and_media_upload(fake_wechat: FakeWeChat) -> None:
    async with api_client(fake_wechat, MemoryStore()) as client:
        msgid = await client.send_template(
            OPENID,
            "TEMPLATE_CLAIM_PROGRESS",
            {"thing1": "住院医疗理赔", "phrase2": "审核中"},
            url="https://claims.example.com/c/1",
            client_msg_id="outbox-42",
        )
        media_id = await client.upload_media(
            "image", b"\x89PNG guide", filename="guide.png", content_type="image/png"
        )
        await client.send_image(OPENID, media_id)
        downloaded = await client.download_media(media_id)

    [template] = fake_wechat.template_messages
    assert msgid == template["msgid"]
    assert template["data"] == {"thing1": {"value": "住院医疗理赔"}, "phrase2": {"value": "审核中"}}
    assert template["client_msg_id"] == "outbox-42"
    assert fake_wechat.sent_messages == [
        {"touser": OPENID, "msgtype": "image", "image": {"media_id": media_id}}
    ]
    assert (downloaded.data, downloaded.content_type) == (b"\x89PNG guide", "image/png")
    assert downloaded.filename == "guide.png"


async def test_an_unknown_media_id_is_an_api_error(fake_wechat: FakeWeChat) -> None:
    async with api_client(fake_wechat, MemoryStore()) as client:
        with pytest.raises(WeChatApiError) as raised:
            await client.download_media("NO_SUCH_MEDIA")
    assert raised.value.errcode == 40007
