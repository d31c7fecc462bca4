from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from backend.core.db import transaction
from backend.core.deps import StateDep
from backend.core.state import Services
from backend.models import OutboxMessage, WorkerHeartbeat

router = APIRouter(tags=["health"])


def _notifications(state: Services) -> dict[str, Any]:
    """The worker's liveness (its newest heartbeat) and the age of the oldest notice
    that is due and not delivered: together they say whether customers hear news."""
    now = datetime.now(UTC)
    with transaction(state.session_factory) as session:
        beat = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
        oldest = session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status.in_(("pending", "sending")),
                OutboxMessage.next_attempt_at <= now,
            )
        )
    beat_age = (now - beat).total_seconds() if beat else None
    alive = beat_age is not None and beat_age <= state.settings.worker_stale_seconds
    return {
        "status": "ok" if alive else "down",
        "worker_last_seen_seconds": round(beat_age, 1) if beat_age is not None else None,
        "oldest_due_notice_seconds": round((now - oldest).total_seconds(), 1) if oldest else 0,
    }


@router.get("/health")
async def health(state: StateDep) -> JSONResponse:
    """Each dependency the app uses, with its state. 503 when a required one is down."""
    checks: dict[str, dict[str, Any]] = {}
    required_ok = True

    def _db() -> None:
        # A bare DBAPI round trip: no transaction, so it never waits on a writer's lock.
        raw = state.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        finally:
            raw.close()

    try:
        await asyncio.to_thread(_db)
        checks["database"] = {"status": "ok", "backend": state.engine.dialect.name}
    except Exception as exc:  # report, never raise, from a health check
        required_ok = False
        checks["database"] = {"status": "down", "error": type(exc).__name__}

    if state.redis is None:
        checks["redis"] = {"status": "not_configured"}
    else:
        try:
            await state.redis.ping()
            checks["redis"] = {"status": "ok"}
        except Exception as exc:
            required_ok = False
            checks["redis"] = {"status": "down", "error": type(exc).__name__}

    store = state.document_store
    try:
        await asyncio.to_thread(store.check)
        checks["document_store"] = {"status": "ok", "kind": store.kind}
    except Exception as exc:
        required_ok = False
        checks["document_store"] = {"status": "down", "error": type(exc).__name__}

    try:
        checks["notifications"] = await asyncio.to_thread(_notifications, state)
    except Exception as exc:
        checks["notifications"] = {"status": "down", "error": type(exc).__name__}

    # The bot is needed for chat turns but the claims API works without it.
    token = state.settings.rasa_token
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            response = await client.get(
                f"{state.settings.rasa_url}/status",
                params={"token": token.get_secret_value()} if token else None,
            )
        if response.status_code == 200:
            checks["rasa"] = {"status": "ok"}
        elif response.status_code in (401, 403):
            checks["rasa"] = {"status": "down", "error": "refused RASA_TOKEN"}
        else:
            checks["rasa"] = {"status": "down", "error": f"HTTP {response.status_code}"}
    except httpx.HTTPError as exc:
        checks["rasa"] = {"status": "down", "error": type(exc).__name__}

    degraded = any(c["status"] == "down" for c in checks.values())
    status = "down" if not required_ok else ("degraded" if degraded else "ok")
    return JSONResponse({"status": status, "checks": checks}, 200 if required_ok else 503)
