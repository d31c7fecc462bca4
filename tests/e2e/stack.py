"""Start the real processes (app, Rasa, action server, notifications worker) on free loopback ports, the way
`make run` does, with a throw-away SQLite database and document directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "claims.tar.gz"
BOT_TOKEN = "e2e-bot-token"
RASA_TOKEN = "e2e-rasa-token"
STAFF_USER = "e2e-adjuster"
STAFF_PASSWORD = "e2e-adjuster-password"
AGENT_USER = "e2e-agent"
AGENT_PASSWORD = "e2e-agent-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    workdir: Path
    app_port: int = field(default_factory=free_port)
    rasa_port: int = field(default_factory=free_port)
    actions_port: int = field(default_factory=free_port)
    model: Path = MODEL  # bench/turn_bench.py --model compares another model
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.workdir / 'claims.db'}"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TWILIO_"))}
        env.update(
            RASA_TELEMETRY_ENABLED="false",
            SANIC_HOST="127.0.0.1",
            DATABASE_URL=self.database_url,
            VAR_DIR=str(self.workdir / "var"),
            DOCUMENT_DIR=str(self.workdir / "documents"),
            BOT_SERVICE_TOKEN=BOT_TOKEN,
            BACKEND_BOT_TOKEN=BOT_TOKEN,
            BACKEND_URL=self.app_url,
            RASA_URL=self.rasa_url,
            RASA_TOKEN=RASA_TOKEN,
            ACTION_ENDPOINT_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
            PUBLIC_BASE_URL=self.app_url,
        )
        env.update(extra or {})
        return env

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def _start(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        out = (self.workdir / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def _wait(self, name: str, url: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}):\n{self.log(name)}")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{name} not ready after {seconds:.0f} s:\n{self.log(name)}")

    def start(self, app_env: dict[str, str] | None = None) -> None:
        if not self.model.exists():
            raise RuntimeError(f"no trained model at {self.model}: run `make train` first")
        env = self.env(app_env)
        py = str(ROOT / ".venv" / "bin" / "python")
        for step in ("migrate", "demo-data"):
            subprocess.run(
                [py, "-m", "backend.cli", step], cwd=ROOT, env=env, check=True, capture_output=True
            )
        self._start(
            "app",
            [
                str(ROOT / ".venv" / "bin" / "uvicorn"),
                "backend.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.app_port),
            ],
            env,
        )
        bot = ROOT / ".venv-bot" / "bin"
        self._start(
            "actions",
            [
                str(bot / "python"),
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "--port",
                str(self.actions_port),
            ],
            env,
        )
        self._start(
            "rasa",
            [
                str(bot / "python"),
                "-m",
                "bot.server",  # Rasa, with the action server's answers checked faster
                "run",
                "--model",
                str(self.model),
                "--enable-api",
                "--auth-token",
                RASA_TOKEN,
                "--interface",
                "127.0.0.1",
                "--port",
                str(self.rasa_port),
                "--endpoints",
                "bot/endpoints.yml",
                "--credentials",
                "bot/credentials.yml",
            ],
            env,
        )
        self._start("worker", [py, "-m", "backend.notifications.worker"], env)
        for user, role, password in (
            (STAFF_USER, "adjuster", STAFF_PASSWORD),
            (AGENT_USER, "agent", AGENT_PASSWORD),
        ):
            subprocess.run(
                [py, "-m", "backend.cli", "create-staff", user, "--role", role,
                 "--password-stdin"],
                cwd=ROOT, env=env, check=True, capture_output=True, input=password.encode(),
            )  # fmt: skip
        self._wait("app", self.app_url + "/health", 60)
        self._wait("actions", f"http://127.0.0.1:{self.actions_port}/health", 90)
        self._wait("rasa", f"{self.rasa_url}/status?token={RASA_TOKEN}", 480)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def running_stack(
    workdir: Path, app_env: dict[str, str] | None = None, model: Path = MODEL
) -> Iterator[Stack]:
    stack = Stack(workdir, model=model)
    try:
        stack.start(app_env)
        yield stack
    finally:
        stack.stop()
