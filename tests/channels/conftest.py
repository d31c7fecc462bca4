"""Fixtures for the channel tests: the fakes, real Redis, an in-test gateway, and the
channel routers mounted on a FastAPI app driven over ASGI."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from backend.composition import add_platform_channels
from channels.deps import get_gateway
from channels.messages import DeliveryRoute, DeliveryStatus, InboundMessage, OutboundMessage
from channels.runtime import ChannelRuntime, open_channel_runtime
from channels.settings import ChannelSettings
from channels.twilio.router import router as twilio_router
from channels.wechat.router import router as wechat_router
from tests.fakes.fake_twilio import FakeTwilio, TwilioWebhooks
from tests.fakes.fake_wechat import FakeWeChat, WeChatCallbacks

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PUBLIC_BASE_URL = "https://claims.example.com"
# What the app sees behind the TLS-terminating proxy; Twilio signs PUBLIC_BASE_URL.
INTERNAL_BASE_URL = "http://10.0.0.5:8000"
OPENID = "oV3Xk5Q2zW8m1pYbR7tLc9uHd0aE"
PHONE = "+8613812345678"
TWILIO_NUMBER = "+15005550006"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class RecordingGateway:
    """The app's side of the boundary, as a test double: records every call and answers
    with canned bot replies (optionally slowly)."""

    reply: Callable[[InboundMessage], list[OutboundMessage]] = field(
        default=lambda message: [OutboundMessage(text=f"收到：{message.text}")]
    )
    delay_seconds: float = 0.0
    fail: bool = False
    inbound: list[InboundMessage] = field(default_factory=list)
    stored_media: list[dict[str, Any]] = field(default_factory=list)
    outbound: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[tuple[str, str, str | None]] = field(default_factory=list)
    opted_out: list[tuple[str, str]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    answered_keys: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)  # by handle_inbound_durably
    runtime: ChannelRuntime | None = None

    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        """What the app's outbound path does, reduced to the channel's part: send with
        the conversation's adapter and record every outcome."""
        assert self.runtime is not None
        channel, _, address = conversation_id.partition(":")
        for outcome in await self.runtime.adapters[channel].send(address, messages):
            await self.record_outbound(
                conversation_id,
                outcome.message,
                route=outcome.route,
                status=outcome.status,
                platform_message_id=outcome.platform_message_id,
                error_code=outcome.error_code,
            )
            if outcome.failure == "opted_out":
                await self.mark_opted_out(conversation_id, reason="sms_21610")

    async def accept(self, message: InboundMessage) -> bool:
        """As the app: a message accepted once; a second delivery of it is refused."""
        if message.dedup_key in self.accepted:
            return False
        self.accepted.append(message.dedup_key)
        return True

    async def answered(
        self, message: InboundMessage, *, passive_reply: Sequence[OutboundMessage] = ()
    ) -> None:
        for said in passive_reply:
            await self.record_outbound(
                message.conversation_id, said, route="wechat_passive", status="sent"
            )
        self.answered_keys.append(message.dedup_key)

    async def handle_inbound(self, message: InboundMessage) -> list[OutboundMessage]:
        self.inbound.append(message)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.fail:
            raise RuntimeError("backend down")
        return self.reply(message)

    async def handle_inbound_durably(self, message: InboundMessage) -> list[OutboundMessage] | None:
        """As the app: the message is stored (after the delay, like a commit) by one call;
        another call for the same message finds it stored and answers nothing."""
        self.inbound.append(message)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.fail:
            raise RuntimeError("backend down")
        if message.platform_message_id is not None:
            if message.dedup_key in self.stored:
                return None
            self.stored.append(message.dedup_key)
        return self.reply(message)

    async def store_media(
        self, conversation_id: str, data: bytes, *, filename: str, content_type: str
    ) -> str:
        document_id = f"doc-{len(self.stored_media) + 1}"
        self.stored_media.append(
            {
                "conversation_id": conversation_id,
                "data": data,
                "filename": filename,
                "content_type": content_type,
                "document_id": document_id,
            }
        )
        return document_id

    async def record_outbound(
        self,
        conversation_id: str,
        message: OutboundMessage,
        *,
        route: DeliveryRoute,
        status: DeliveryStatus,
        platform_message_id: str | None = None,
        error_code: str | None = None,
    ) -> None:
        self.outbound.append(
            {
                "conversation_id": conversation_id,
                "text": message.text,
                "route": route,
                "status": status,
                "platform_message_id": platform_message_id,
                "error_code": error_code,
            }
        )

    async def record_delivery_status(
        self, platform_message_id: str, status: str, error_code: str | None
    ) -> None:
        self.statuses.append((platform_message_id, status, error_code))

    async def mark_opted_out(self, conversation_id: str, *, reason: str) -> None:
        self.opted_out.append((conversation_id, reason))


@dataclass
class Harness:
    app: FastAPI
    runtime: ChannelRuntime
    client: httpx.AsyncClient
    gateway: RecordingGateway

    async def post_callback(self, params: dict[str, str], body: bytes) -> httpx.Response:
        return await self.client.post(
            "/channels/wechat",
            params=params,
            content=body,
            headers={"Content-Type": "text/xml"},
        )


@asynccontextmanager
async def running_channels(
    settings: ChannelSettings, gateway: RecordingGateway, *, redis: Redis | None = None
) -> AsyncIterator[Harness]:
    async with (
        open_channel_runtime(settings, redis=redis, drain_seconds=5) as runtime,
        AsyncExitStack() as stack,
    ):
        await add_platform_channels(runtime, stack)
        gateway.runtime = runtime
        app = FastAPI()
        app.include_router(wechat_router)
        app.include_router(twilio_router)
        app.state.channel_runtime = runtime
        app.dependency_overrides[get_gateway] = lambda: gateway
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=INTERNAL_BASE_URL) as client:
            yield Harness(app, runtime, client, gateway)


def new_aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")


@pytest.fixture
def fake_wechat() -> Iterator[FakeWeChat]:
    with FakeWeChat() as server:
        yield server


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def wechat_token() -> str:
    return secrets.token_hex(12)


def wechat_settings(
    fake: FakeWeChat, token: str, *, aes_key: str | None = None, **overrides: Any
) -> ChannelSettings:
    values: dict[str, Any] = {
        "wechat_token": token,
        "wechat_app_id": fake.app_id,
        "wechat_app_secret": fake.app_secret,
        "wechat_aes_key": aes_key,
        "wechat_api_base_url": fake.base_url,
        "wechat_reply_budget_seconds": 2.0,
        "redis_url": None,
        "wechat_http_timeout_seconds": 3.0,
        **overrides,
    }
    return ChannelSettings(_env_file=None, **values)


def twilio_settings(fake: FakeTwilio, **overrides: Any) -> ChannelSettings:
    values: dict[str, Any] = {
        "twilio_account_sid": fake.account_sid,
        "twilio_auth_token": fake.auth_token,
        "twilio_from_number": TWILIO_NUMBER,
        "twilio_api_base_url": fake.base_url,
        "twilio_http_timeout_seconds": 3.0,
        "public_base_url": PUBLIC_BASE_URL,
        "redis_url": None,
        **overrides,
    }
    return ChannelSettings(_env_file=None, **values)


@pytest.fixture
def callbacks(fake_wechat: FakeWeChat, wechat_token: str) -> WeChatCallbacks:
    return WeChatCallbacks(token=wechat_token, app_id=fake_wechat.app_id)


@pytest.fixture
def twilio_webhooks(fake_twilio: FakeTwilio) -> TwilioWebhooks:
    return TwilioWebhooks(
        auth_token=fake_twilio.auth_token,
        public_base_url=PUBLIC_BASE_URL,
        account_sid=fake_twilio.account_sid,
    )


@dataclass
class RedisFixture:
    client: Redis
    prefix: str

    async def keys(self) -> list[str]:
        return sorted([k.decode() async for k in self.client.scan_iter(match=self.prefix + "*")])


@pytest.fixture
async def redis() -> AsyncIterator[RedisFixture]:
    """The real Redis server, with a key prefix of its own; fails loudly when absent."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc!r}). These tests use the real "
            "server: start it with `redis-server --daemonize yes` (or "
            "`sudo service redis-server start`), or point TEST_REDIS_URL at one.",
            pytrace=False,
        )
    prefix = f"test:channels:{secrets.token_hex(6)}:"
    try:
        yield RedisFixture(client, prefix)
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
