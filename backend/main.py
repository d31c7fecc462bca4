"""The app process: claims API, channel webhooks and (later) the agent console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis

from backend.claims.router import router as claims_router
from backend.conversations.gateway import AppGateway
from backend.conversations.router import router as conversations_router
from backend.core.body_limit import BodySizeLimit
from backend.core.db import make_engine, make_session_factory
from backend.core.errors import install_error_handlers
from backend.core.logging import configure_logging
from backend.core.settings import Settings, get_settings
from backend.core.state import AppState
from backend.documents.router import router as documents_router
from backend.documents.service import open_document_store
from backend.health.router import router as health_router
from backend.identities.router import router as identities_router
from backend.staff.router import router as staff_router
from backend.stats.router import router as stats_router
from backend.webchat.router import router as webchat_router
from channels.deps import get_gateway
from channels.runtime import open_channel_runtime
from channels.settings import ChannelSettings
from channels.twilio.router import router as twilio_router
from channels.wechat.router import router as wechat_router


def create_app(
    settings: Settings | None = None, channel_settings: ChannelSettings | None = None
) -> FastAPI:
    resolved = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging()
        engine = make_engine(resolved.database_url, echo=resolved.database_echo)
        state = AppState(resolved, engine, make_session_factory(engine))
        store = open_document_store(resolved)
        state.extras["document_store"] = store
        async with AsyncExitStack() as stack:
            if resolved.redis_url:
                state.redis = Redis.from_url(resolved.redis_url)
                stack.push_async_callback(state.redis.aclose)
            stack.callback(engine.dispose)
            http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0))
            )
            channel_cfg = channel_settings or ChannelSettings(redis_url=resolved.redis_url)
            runtime = await stack.enter_async_context(
                open_channel_runtime(channel_cfg, redis=state.redis)
            )
            gateway = AppGateway(state, store, http, apology_text=channel_cfg.fallback_reply_text)
            state.extras["gateway"] = gateway
            app.state.channel_runtime = runtime
            app.dependency_overrides[get_gateway] = lambda: gateway
            app.state.claims = state
            yield

    app = FastAPI(
        title="Claims assistant backend",
        version="1.0.0",
        lifespan=lifespan,
        docs_url="/docs",
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, settings=resolved)
    app.include_router(health_router)
    app.include_router(staff_router)
    app.include_router(identities_router)
    app.include_router(claims_router)
    app.include_router(documents_router)
    app.include_router(conversations_router)
    app.include_router(stats_router)
    app.include_router(wechat_router)
    app.include_router(twilio_router)
    if resolved.web_chat_enabled:
        app.include_router(webchat_router)
    return app
