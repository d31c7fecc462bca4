"""The worker as the process `make run` starts (`python -m backend.notifications.worker`),
killed with SIGKILL in the middle of a batch: the next worker delivers what it held.
At most the one notice in flight at the moment of the kill may go out twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from backend.notifications.worker import run_worker
from tests.backend.notifications.conftest import PUBLIC_BASE_URL, TEMPLATES, World, new_openid
from tests.backend.notifications.test_worker import APPROVED, notice

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_SEND = "/cgi-bin/message/template/send"


def worker_env(world: World, workdir: Path, lease_seconds: float) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        APP_ENV="development",
        VAR_DIR=str(workdir / "var"),
        DOCUMENT_DIR=str(workdir / "documents"),
        DATABASE_URL=world.url,
        RASA_URL="http://127.0.0.1:9",
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        WECHAT_APP_ID=world.wechat.app_id,
        WECHAT_APP_SECRET=world.wechat.app_secret,
        WECHAT_API_BASE_URL=world.wechat.base_url,
        WECHAT_TEMPLATES=json.dumps(TEMPLATES),
        TWILIO_ACCOUNT_SID=world.twilio.account_sid,
        TWILIO_AUTH_TOKEN=world.twilio.auth_token,
        TWILIO_FROM_NUMBER="+15005550006",
        TWILIO_API_BASE_URL=world.twilio.base_url,
        SMS_QUIET_HOURS="",
        NOTICE_LEASE_SECONDS=str(lease_seconds),
        NOTICE_BATCH_SIZE="20",
        WORKER_POLL_SECONDS="0.1",
    )
    return env


async def test_worker_process_killed_mid_batch_loses_nothing(
    pg_world: World, tmp_path: Path
) -> None:
    world = pg_world
    openid = new_openid()
    world.bind("P2025000001", f"wechat:{openid}", last_message_ago=None)  # by template
    number = world.file_claim()
    ids = [notice(world, number, "approved", **APPROVED) for _ in range(60)]
    world.wechat.delay(0.05, TEMPLATE_SEND)  # slow enough to be caught mid-batch

    workdir = tmp_path / "worker"  # no .env here: only the environment above counts
    workdir.mkdir()
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.notifications.worker"],
            cwd=workdir,
            env=worker_env(world, workdir, lease_seconds=2.0),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while len(world.templates_to(openid)) < 5:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the worker sent nothing:\n" + (
                    log_path.read_text()
                )
                await asyncio.sleep(0.02)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
    assert process.returncode == -signal.SIGKILL

    sent_by_dead = len(world.templates_to(openid))
    held = [r for r in world.outbox(number) if r.status == "sending"]
    assert held, "the killed worker held no batch: nothing was tested"
    assert sent_by_dead < len(ids)

    # The next worker (the one `make run` starts again) picks up after the lease.
    world.wechat.delay(0.0, TEMPLATE_SEND)
    stop = asyncio.Event()
    settings = world.settings(worker_poll_seconds=0.1, notice_lease_seconds=2.0)
    task = asyncio.create_task(run_worker(settings, stop, name="worker-2"))
    try:
        deadline = time.monotonic() + 30
        while any(r.status != "sent" for r in world.outbox(number)):
            assert not task.done(), task
            assert time.monotonic() < deadline, Counter(r.status for r in world.outbox(number))
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)

    sent = Counter(m["client_msg_id"] for m in world.templates_to(openid))
    assert set(sent) == {f"notice-{i}" for i in ids}
    duplicates = {msg_id: count for msg_id, count in sent.items() if count > 1}
    # Only a notice WeChat accepted just before the kill, before its outcome was
    # committed, may go twice (and its client_msg_id lets WeChat drop it).
    assert len(duplicates) <= 1 and all(count == 2 for count in duplicates.values())
