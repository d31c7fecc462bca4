"""With Redis the worker does not poll for new notices: the app's commit that wrote an
outbox row wakes it, so a notice goes out at once although the worker would look on its
own only once a minute here (WORKER_REDIS_POLL_SECONDS)."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
import redis
from sqlalchemy import select

from backend.composition import open_database, outbox_channel
from backend.core.db import transaction
from backend.domain.types import NoticeKind
from backend.models import Claim
from backend.notifications.outbox import enqueue
from backend.notifications.worker import run_worker
from tests.backend.notifications.conftest import World, new_openid
from tests.backend.notifications.test_worker import APPROVED
from tests.conftest import REDIS_URL

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_a_new_notice_wakes_the_worker_without_polling(pg_world: World) -> None:
    world = pg_world
    openid = new_openid()
    world.bind("P2025000001", f"wechat:{openid}", last_message_ago=None)
    number = world.file_claim()
    settings = world.settings(
        redis_url=REDIS_URL,
        redis_key_prefix=f"wake-{secrets.token_hex(4)}:",
        worker_redis_poll_seconds=600.0,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop, name="worker-wake"))
    client = redis.Redis.from_url(REDIS_URL)
    engine, app_sessions = open_database(settings)  # the app's, which publishes
    try:
        deadline = time.monotonic() + 30
        while client.pubsub_numsub(outbox_channel(settings))[0][1] < 1:
            assert not task.done(), task
            assert time.monotonic() < deadline, "the worker never listened"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # its first look, at start, has found nothing

        with transaction(app_sessions) as session:
            claim = session.scalars(select(Claim).where(Claim.claim_number == number)).one()
            enqueue(session, claim, NoticeKind.APPROVED, **APPROVED)

        deadline = time.monotonic() + 30
        while not world.templates_to(openid):
            assert not task.done(), task
            assert time.monotonic() < deadline, "the notice waited for the next poll"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        engine.dispose()
        client.close()
    assert [r.status for r in world.outbox(number)] == ["sent"]
