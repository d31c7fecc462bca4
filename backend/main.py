"""The app process: claims API, channel webhooks and the agent console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backend.audit.router import router as audit_router
from backend.claims.router import router as claims_router
from backend.composition import open_services
from backend.console.claims_queue import router as claims_queue_router
from backend.console.figures import router as figures_router
from backend.console.router import STATIC_DIR as CONSOLE_STATIC
from backend.console.router import ConsoleHeaders
from backend.console.router import router as console_router
from backend.console.workbench import router as workbench_router
from backend.conversations.handoff_router import router as handoff_router
from backend.conversations.router import router as conversations_router
from backend.core.body_limit import BodySizeLimit
from backend.core.errors import install_error_handlers
from backend.core.logging import configure_logging
from backend.core.openapi import API_ERRORS, WEBHOOK_ERRORS, error_responses
from backend.core.settings import Settings, get_settings
from backend.documents.router import router as documents_router
from backend.health.router import router as health_router
from backend.identities.router import router as identities_router
from backend.staff.router import router as staff_router
from backend.stats.router import router as stats_router
from channels.twilio.router import router as twilio_router
from channels.webchat.router import router as webchat_router
from channels.wechat.router import router as wechat_router

THREADS = 200


def create_app(settings: Settings | None = None) -> FastAPI:
    resolved = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging()
        # Sync endpoints and dependencies run on anyio's worker threads (40 by default).
        # On SQLite a request's session may wait for the write lock on one of them while
        # the session that holds it needs another to commit: with every thread waiting,
        # nothing moves until the 30 s lock timeout. Threads are cheap; a stall is not.
        to_thread.current_default_thread_limiter().total_tokens = THREADS
        async with open_services(resolved) as services:
            app.state.claims = services
            app.state.channel_runtime = services.channels
            app.state.channel_gateway = services.gateway
            yield

    app = FastAPI(
        title="Claims assistant backend",
        version="1.0.0",
        lifespan=lifespan,
        docs_url="/docs",
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, settings=resolved)
    app.add_middleware(ConsoleHeaders)
    app.include_router(health_router)
    app.include_router(staff_router, responses=error_responses(405, 413, 422))
    app.include_router(identities_router, responses={**API_ERRORS, **error_responses(423)})
    app.include_router(claims_router, responses={**API_ERRORS, **error_responses(409)})
    app.include_router(documents_router, responses=API_ERRORS)
    app.include_router(audit_router, responses=API_ERRORS)
    app.include_router(conversations_router, responses={**API_ERRORS, **error_responses(409)})
    app.include_router(handoff_router, responses={**API_ERRORS, **error_responses(409)})
    app.include_router(stats_router, responses=API_ERRORS)
    app.include_router(wechat_router, responses=WEBHOOK_ERRORS)
    app.include_router(twilio_router, responses=WEBHOOK_ERRORS)
    app.include_router(console_router)
    app.include_router(claims_queue_router)
    app.include_router(workbench_router)
    app.include_router(figures_router)
    app.mount("/console/static", StaticFiles(directory=CONSOLE_STATIC), name="console-static")
    if resolved.web_chat_enabled:
        app.include_router(webchat_router)
    return app
