"""The one composition root: builds every service a process needs from Settings.

    async with open_services(settings) as services:
        ...

The app's lifespan, the notifications worker and the CLI call it. It is the only
place that knows the platform adapters (WeChat, Twilio, web chat) and puts them into
the generic channel runtime.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import redis as sync_redis
from redis.asyncio import Redis
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from backend.conversations.gateway import AppGateway
from backend.conversations.handoff_service import HandoffService
from backend.conversations.outbound import OutboundService
from backend.conversations.rasa import RasaClient
from backend.core.db import make_engine, make_session_factory
from backend.core.settings import Settings
from backend.core.state import Services
from backend.documents.service import open_document_store
from backend.models import OutboxMessage
from channels.runtime import ChannelRuntime, open_channel_runtime
from channels.twilio.outbound import open_twilio_channel
from channels.twilio.router import answer_sms
from channels.webchat.outbound import WebChatChannel
from channels.webchat.router import answer_web
from channels.wechat.outbound import open_wechat_channel
from channels.wechat.router import answer_wechat


def outbox_channel(settings: Settings) -> str:
    """The workers listen here; the app publishes after a commit that wrote outbox rows.
    Under REDIS_KEY_PREFIX, so two deployments on one Redis never wake each other."""
    return settings.redis_key_prefix + "outbox:new"


def publish_new_notices(
    session_factory: sessionmaker[Session], redis_url: str, channel: str
) -> None:
    """Wake the workers at once after any commit that wrote an outbox row."""
    client = sync_redis.Redis.from_url(redis_url)

    def after_flush(session: Session, _context: object) -> None:
        if any(isinstance(obj, OutboxMessage) for obj in session.new):
            session.info["new_notices"] = True

    def after_commit(session: Session) -> None:
        if session.info.pop("new_notices", False):
            # On failure the workers' poll still finds the row.
            with contextlib.suppress(sync_redis.RedisError):
                client.publish(channel, "1")

    event.listen(session_factory, "after_flush", after_flush)
    event.listen(session_factory, "after_commit", after_commit)


async def add_platform_channels(runtime: ChannelRuntime, stack: AsyncExitStack) -> WebChatChannel:
    """Put the WeChat, SMS and web chat adapters into `runtime`; return the web chat's."""
    settings = runtime.settings
    runtime.adapters["wechat"] = await open_wechat_channel(settings, runtime.store, stack)
    runtime.adapters["sms"] = open_twilio_channel(settings, stack)
    webchat = WebChatChannel(runtime.broadcast)
    runtime.adapters["web"] = webchat
    return webchat


def open_database(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    """The engine and session factory every process uses; with Redis, a commit that
    wrote an outbox row wakes the notification workers."""
    engine = make_engine(settings.database_url, echo=settings.database_echo)
    session_factory = make_session_factory(engine)
    if settings.redis_url:
        publish_new_notices(session_factory, settings.redis_url, outbox_channel(settings))
    return engine, session_factory


def wake_workers(settings: Settings) -> None:
    """Tell the workers to look now (after rows were put back in the queue by hand)."""
    if settings.redis_url:
        client = sync_redis.Redis.from_url(settings.redis_url)
        with contextlib.suppress(sync_redis.RedisError):
            client.publish(outbox_channel(settings), "1")
        client.close()


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    engine, session_factory = open_database(settings)
    async with AsyncExitStack() as stack:
        stack.callback(engine.dispose)
        redis = None
        if settings.redis_url:
            redis = Redis.from_url(settings.redis_url)
            stack.push_async_callback(redis.aclose)
        http = await stack.enter_async_context(
            httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0))
        )
        runtime = await stack.enter_async_context(
            open_channel_runtime(settings.channels, redis=redis)
        )
        webchat = await add_platform_channels(runtime, stack)
        rasa = RasaClient(settings, http)
        services = Services(
            settings=settings,
            engine=engine,
            session_factory=session_factory,
            redis=redis,
            document_store=open_document_store(settings),
            http=http,
            channels=runtime,
            webchat=webchat,
            rasa=rasa,
            outbound=None,  # type: ignore[arg-type]  # set just below: it needs `services`
            gateway=None,  # type: ignore[arg-type]
            handoffs=None,  # type: ignore[arg-type]
        )
        services.outbound = OutboundService(services)
        services.gateway = AppGateway(services)
        services.handoffs = HandoffService(services)
        runtime.answerers["sms"] = functools.partial(answer_sms, runtime, services.gateway)
        runtime.answerers["wechat"] = functools.partial(answer_wechat, runtime, services.gateway)
        runtime.answerers["web"] = functools.partial(answer_web, runtime, services.gateway)
        yield services
