"""The notifications worker: a process of its own.

    .venv/bin/python -m backend.notifications.worker

Delivers due outbox rows (backend/notifications/service.py), runs the time-based jobs
once across replicas, and reports a heartbeat for /health. It wakes within a fraction
of a second of a new notice: at once through Redis pub/sub when REDIS_URL is set (the
app publishes after every commit that wrote an outbox row), else by a short poll
(WORKER_POLL_SECONDS). With Redis it still looks every WORKER_REDIS_POLL_SECONDS, for
notices whose retry or quiet-hours wait is over and in case a wake-up was lost; an
idle worker then costs next to nothing (it took 12-47 ms of CPU a second polling every
0.5 s). SIGINT/SIGTERM finish the notice in hand, then stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from backend.composition import open_services, outbox_channel
from backend.conversations.inbox import answering_unanswered
from backend.core.logging import configure_logging
from backend.core.settings import Settings, get_settings
from backend.core.state import Services
from backend.models import WorkerHeartbeat
from backend.notifications.service import NotificationService

log = logging.getLogger("backend.notifications.worker")

HEARTBEAT_SECONDS = 5.0
JOBS_SECONDS = 15.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _beat(session: Session, name: str) -> None:
    row = session.get(WorkerHeartbeat, name)
    now = datetime.now(UTC)
    if row is None:
        session.add(WorkerHeartbeat(name=name, beat_at=now))
    else:
        row.beat_at = now


async def _listen(services: Services, wake: asyncio.Event) -> None:
    assert services.redis is not None
    pubsub = services.redis.pubsub()
    try:
        await pubsub.subscribe(outbox_channel(services.settings))
        async for message in pubsub.listen():
            if message.get("type") == "message":
                wake.set()
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()


async def run_worker(settings: Settings, stop: asyncio.Event, *, name: str | None = None) -> None:
    name = name or worker_name()
    async with open_services(settings) as services:
        service = NotificationService(services, owner=name)
        wake = asyncio.Event()
        listener = asyncio.create_task(_listen(services, wake)) if services.redis else None
        poll_seconds = (
            settings.worker_redis_poll_seconds if listener else settings.worker_poll_seconds
        )
        loop = asyncio.get_running_loop()
        next_beat = next_jobs = 0.0
        log.info("notifications worker %s started", name)
        # Also answers what a dead app replica accepted and did not answer (an SMS).
        answering = answering_unanswered(services)
        await answering.__aenter__()
        try:
            while not stop.is_set():
                if loop.time() >= next_beat:
                    await service._db(lambda s: _beat(s, name))
                    next_beat = loop.time() + HEARTBEAT_SECONDS
                if loop.time() >= next_jobs:
                    await service.run_jobs()
                    next_jobs = loop.time() + JOBS_SECONDS
                # Cleared before looking, so a wake-up that comes while this batch is
                # taken is not lost (the next look is then at once).
                wake.clear()
                taken = await service.run_once()
                if taken:
                    continue
                waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
                await asyncio.wait(
                    waiters,
                    timeout=poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for waiter in waiters:
                    waiter.cancel()
        finally:
            await answering.__aexit__(None, None, None)
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener
            await services.channels.drain(5)
            log.info("notifications worker %s stopped", name)


def main() -> None:
    configure_logging()
    settings = get_settings()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
