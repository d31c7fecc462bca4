"""Schemathesis against the real app on loopback, generated from its own OpenAPI.

    .venv/bin/python -m tests.security.api_fuzz [--budget SECONDS]

Starts the app under uvicorn on a free 127.0.0.1 port with a throw-away SQLite
database, demo policies, a verified bot conversation and a staff login, then runs
schemathesis once per kind of caller — nobody, the bot's service token (acting for a
verified customer), a staff bearer token — each within its share of the time budget
(55 s in all by default, a minute with start-up). It fails on any 5xx and on any answer that does not match the
schema the OpenAPI documents for its status. Nothing leaves the machine: the platforms'
routes refuse the fuzzed (unsigned) callbacks, and Rasa is a closed port.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKS = "not_a_server_error,response_schema_conformance"
# /health answers 503 by design when a dependency (here: Rasa) is down; the agents'
# live feed is an event stream that never ends (a request timeout, by design).
EXCLUDED_PATHS = ("/health", "/api/v1/handoffs/events")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TWILIO_"))}
    env.update(
        APP_ENV="development",
        DATABASE_URL=f"sqlite:///{workdir / 'claims.db'}",
        VAR_DIR=str(workdir / "var"),
        DOCUMENT_DIR=str(workdir / "documents"),
        REDIS_URL="",
        RASA_URL="http://127.0.0.1:9",
        DEMO_DATA="true",
        # The SSE stream of the web chat never ends: it is tried by the web chat tests.
        WEB_CHAT="false",
        # Channel routes live, so their refusals are fuzzed too.
        WECHAT_TOKEN="fuzz-wechat-token",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="fuzz-twilio-token",
        TWILIO_FROM_NUMBER="+15005550006",
        TWILIO_API_BASE_URL="http://127.0.0.1:9",
        WECHAT_API_BASE_URL="http://127.0.0.1:9",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("REDIS_URL")
    return env


def _prepare(env: dict[str, str]) -> tuple[str, str]:
    """Migrate, load demo data, make a staff user; return (bot token, admin password)."""
    code = """
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo
from backend.core import migrate
from backend.core.db import make_engine, make_session_factory, transaction
from backend.core.settings import get_settings
from backend.demo import load_demo_data
from backend.staff.service import upsert_staff
settings = get_settings()
migrate.upgrade(settings.database_url)
factory = make_session_factory(make_engine(settings.database_url))
with transaction(factory) as session:
    load_demo_data(session, datetime.now(ZoneInfo(settings.timezone)).date())
    upsert_staff(session, "fuzz.admin", "fuzz admin password", "admin", "fuzz")
print(json.dumps({"bot": settings.bot_service_token.get_secret_value()}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["bot"], "fuzz admin password"


def _post_json(url: str, body: dict[str, object], headers: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def _wait_until_up(base: str, app: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise SystemExit(f"the app exited with {app.returncode} before it was up")
        try:
            with urllib.request.urlopen(base + "/openapi.json", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the app did not come up in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=55.0, help="seconds for the whole run")
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="api-fuzz-"))
    env = _environment(workdir)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    app: subprocess.Popen[bytes] | None = None
    try:
        bot_token, admin_password = _prepare(env)
        app = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "backend.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env={**env, "PUBLIC_BASE_URL": base},
            cwd=ROOT,
        )
        _wait_until_up(base, app)
        conversation = "web:fuzzcustomer01"
        bot = {"Authorization": f"Bearer {bot_token}", "X-Conversation-Id": conversation}
        _post_json(
            base + "/api/v1/identities/verify",
            {"policy_number": "P2025000001", "id_last4": "1234"},
            bot,
        )
        token = _post_json(
            base + "/api/v1/staff/login",
            {"username": "fuzz.admin", "password": admin_password},
            {},
        )["access_token"]
        callers: list[tuple[str, list[str]]] = [
            ("nobody", []),
            (
                "bot (verified customer)",
                [f"Authorization: Bearer {bot_token}", f"X-Conversation-Id: {conversation}"],
            ),
            ("staff (admin)", [f"Authorization: Bearer {token}"]),
        ]
        failed = []
        for index, (name, headers) in enumerate(callers):
            left = args.budget - (time.monotonic() - started)
            share = max(1, int(left / (len(callers) - index)) - 2)
            print(f"==> schemathesis as {name}: {share} s", flush=True)
            command = [
                str(Path(sys.executable).with_name("st")),
                "run",
                f"{base}/openapi.json",
                "--checks",
                CHECKS,
                "--max-time",
                str(share),
                "--seed",
                str(args.seed),
                "--phases",
                "examples,coverage,fuzzing",
                "--request-timeout",
                "5",
                "--no-color",
                "--generation-database",
                "none",
            ]
            for path in EXCLUDED_PATHS:
                command += ["--exclude-path", path]
            for header in headers:
                command += ["-H", header]
            # In the throw-away folder: schemathesis keeps a cache where it runs.
            result = subprocess.run(command, cwd=workdir, env=env, timeout=share + 30)
            if result.returncode != 0:
                failed.append(name)
        elapsed = time.monotonic() - started
        if failed:
            print(f"API fuzz FAILED for: {', '.join(failed)} ({elapsed:.0f} s)")
            return 1
        print(f"API fuzz passed for {len(callers)} kinds of caller in {elapsed:.0f} s")
        return 0
    finally:
        if app is not None:
            app.terminate()
            try:
                app.wait(timeout=10)
            except subprocess.TimeoutExpired:
                app.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
