"""The scaled topology of `make run-scaled` (scripts/run-scaled.sh), started once: nginx
in front of two app and two Rasa replicas, two action servers and two notification
workers, on a PostgreSQL database of its own and the real Redis, with the fake WeChat
and Twilio APIs on loopback. Dead processes are started again (SCALED_RESTART=1), as an
orchestrator would."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from backend.core.db import make_engine
from tests.conftest import POSTGRES_URL, REDIS_URL
from tests.e2e.conftest import TWILIO_NUMBER, WECHAT_TOKEN
from tests.e2e.stack import (
    AGENT_PASSWORD,
    AGENT_USER,
    BOT_TOKEN,
    MODEL,
    RASA_TOKEN,
    ROOT,
    STAFF_PASSWORD,
    STAFF_USER,
    Stack,
    free_port,
)
from tests.fakes.fake_twilio import FakeTwilio
from tests.fakes.fake_wechat import FakeWeChat

pytestmark = pytest.mark.e2e

# Kept after the run (the last run's only), to read when something failed.
LOG_DIR = ROOT / "var" / "log" / "test-scaled"


@dataclass
class Scaled:
    """The running topology. `stack` is what the e2e helpers (Phone, claim_of) take: its
    app URL is nginx's public port."""

    stack: Stack
    workdir: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes]

    def pid(self, name: str) -> int:
        return int((self.workdir / "pids" / f"{name}.pid").read_text())

    def log(self, name: str) -> str:
        path = LOG_DIR / f"scaled-{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def log_since(self, name: str, offset: int) -> str:
        """What `name` logged after `offset` bytes of its log (see `log_size`)."""
        path = LOG_DIR / f"scaled-{name}.log"
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def log_size(self, name: str) -> int:
        path = LOG_DIR / f"scaled-{name}.log"
        return path.stat().st_size if path.exists() else 0

    def health_url(self, name: str) -> str | None:
        port = self.ports.get(name)
        if name.startswith("app"):
            return f"http://127.0.0.1:{port}/health"
        if name.startswith("actions"):
            return f"http://127.0.0.1:{port}/health"
        if name.startswith("rasa"):
            return f"http://127.0.0.1:{port}/status?token={RASA_TOKEN}"
        return None

    def kill(self, name: str) -> int:
        """SIGKILL one process (no clean-up of any kind); return its pid."""
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_ready(self, name: str, seconds: float, *, not_pid: int | None = None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"run-scaled.sh exited:\n{self.log('run')}")
            try:
                pid = self.pid(name)
            except (OSError, ValueError):
                pid = None
            url = self.health_url(name)
            if pid is not None and pid != not_pid:
                if url is None:
                    return
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        raise RuntimeError(f"{name} not ready after {seconds:.0f} s:\n{self.log(name)}")


@pytest.fixture(scope="session")
def wechat() -> Iterator[FakeWeChat]:
    with FakeWeChat() as fake:
        yield fake


@pytest.fixture(scope="session")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def scaled(
    tmp_path_factory: pytest.TempPathFactory, wechat: FakeWeChat, twilio: FakeTwilio
) -> Iterator[Scaled]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first", pytrace=False)
    with running_scaled(tmp_path_factory.mktemp("scaled"), wechat, twilio) as running:
        yield running


@contextmanager
def running_scaled(
    workdir: Path,
    wechat: FakeWeChat,
    twilio: FakeTwilio,
    overrides: dict[str, str] | None = None,
) -> Iterator[Scaled]:
    """Start scripts/run-scaled.sh in `workdir`; stop it, drop its database and its Redis
    keys afterwards. `overrides`: settings on top of the test's (bench/turn_bench.py
    --scaled keeps WeChat's real reply budget)."""
    ports = {
        "public": free_port(),
        "rasa_lb": free_port(),
        "actions_lb": free_port(),
        "app1": free_port(),
        "app2": free_port(),
        "rasa1": free_port(),
        "rasa2": free_port(),
        "actions1": free_port(),
        "actions2": free_port(),
    }
    tag = secrets.token_hex(4)
    database = f"claims_scaled_{tag}"
    database_url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + database
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TWILIO_"))}
    env.update(
        PUBLIC_PORT=str(ports["public"]),
        RASA_LB_PORT=str(ports["rasa_lb"]),
        ACTIONS_LB_PORT=str(ports["actions_lb"]),
        APP_PORTS=f"{ports['app1']} {ports['app2']}",
        RASA_PORTS=f"{ports['rasa1']} {ports['rasa2']}",
        ACTION_PORTS=f"{ports['actions1']} {ports['actions2']}",
        SCALED_DIR=str(workdir),
        LOG_DIR=str(LOG_DIR),
        SCALED_RESTART="1",
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=f"test:scaled:{tag}:",
        RASA_STORE_KEY_PREFIX=f"testscaled{tag}",
        BOT_SERVICE_TOKEN=BOT_TOKEN,
        RASA_TOKEN=RASA_TOKEN,
        TWILIO_ACCOUNT_SID=twilio.account_sid,
        TWILIO_AUTH_TOKEN=twilio.auth_token,
        TWILIO_FROM_NUMBER=TWILIO_NUMBER,
        TWILIO_API_BASE_URL=twilio.base_url,
        SMS_QUIET_HOURS="",
        SERVICE_HOURS="00:00-24:00",
        WECHAT_TOKEN=WECHAT_TOKEN,
        WECHAT_APP_ID=wechat.app_id,
        WECHAT_APP_SECRET=wechat.app_secret,
        WECHAT_API_BASE_URL=wechat.base_url,
        # Each answer comes back as the passive reply, so every one can be counted.
        WECHAT_REPLY_BUDGET_SECONDS="25",
        # A lock left by a killed Rasa replica holds its conversation this long at most.
        TICKET_LOCK_LIFETIME="15",
    )
    env.update(overrides or {})
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run-scaled.sh")],
        cwd=ROOT,
        env=env,
        stdout=(LOG_DIR / "scaled-run.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack = Stack(workdir, app_port=ports["public"])
    running = Scaled(stack, workdir, ports, process)
    try:
        for name, seconds in (("app1", 120), ("app2", 60), ("actions1", 120), ("actions2", 60)):
            running.wait_ready(name, seconds)
        py = str(ROOT / ".venv" / "bin" / "python")
        for user, role, password in (
            (STAFF_USER, "adjuster", STAFF_PASSWORD),
            (AGENT_USER, "agent", AGENT_PASSWORD),
        ):
            subprocess.run(
                [py, "-m", "backend.cli", "create-staff", user, "--role", role,
                 "--password-stdin"],
                cwd=ROOT, env={**env, "VAR_DIR": str(workdir)}, check=True,
                capture_output=True, input=password.encode(),
            )  # fmt: skip
        for name in ("rasa1", "rasa2", "worker1", "worker2"):
            running.wait_ready(name, 600)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for pattern in (f"test:scaled:{tag}:*", f"testscaled{tag}:*"):
            keys = list(client.scan_iter(match=pattern))
            if keys:
                client.delete(*keys)
        client.close()
