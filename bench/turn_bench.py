"""Where a chat turn's time goes: bare Rasa against the whole WeChat path, one run.

Usage: .venv/bin/python bench/turn_bench.py [--levels 1,20,50] [--sequential 5]
       [--database postgres] [--profile DIR] [--model models/other.tar.gz]
       .venv/bin/python bench/turn_bench.py --scaled   (the topology of make run-scaled)

Starts the real stack as `make run` and the e2e tests do (tests/e2e/stack.py: app,
Rasa with the trained model, action server, notifications worker; throw-away SQLite by
default) with a fake WeChat API on loopback, then plays the same message mix
(bench/harness.py SCRIPT: greeting, report with identity, story, a question, confirm,
thanks) through

- bare Rasa: its REST channel (the actions still call the backend), and
- the product: signed WeChat callbacks → app → Rasa → actions → backend; an answer
  that misses the reply budget (4 s) is pushed through the customer-service API and the
  turn ends when the fake API has it,

with 1 sender (`--sequential` conversations one after the other) and with N concurrent
senders (N conversations at once). Per path and level it prints turns/s, p50/p95 of a
turn, the ratio WeChat/bare, CPU per turn of all the stack's processes together (user +
system from /proc/<pid>/stat before and after), and WeChat callbacks past 4 s and 5 s
(WeChat retries after 5 s).

`--profile DIR` runs py-spy (on-CPU samples only; `PY_SPY`, default /tmp/pyspy/bin/py-spy)
on the app, Rasa and the action server (on the scaled topology: one replica of each)
during the 20-sender WeChat phase and leaves raw (collapsed) stacks in DIR;
bench/profile_summary.py sums them by function. On the scaled topology CPU is counted by
what each process is (app, rasa, actions, worker, nginx), replicas together.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.harness import (
    SCRIPT,
    group_cpu_seconds,
    load_average,
    machine_speed_ms,
    pct,
    role_cpu_seconds,
)
from tests.conftest import scratch_postgres
from tests.e2e.conftest import WECHAT_TOKEN as SCALED_WECHAT_TOKEN
from tests.e2e.stack import MODEL, Stack, running_stack
from tests.fakes.fake_twilio import FakeTwilio
from tests.fakes.fake_wechat import FakeWeChat, WeChatCallbacks
from tests.scaled.conftest import running_scaled

ROOT = Path(__file__).resolve().parents[1]
WECHAT_TOKEN = "bench-wechat-token"
PUSH_WAIT_SECONDS = 60.0
IDLE_SECONDS = 10.0


@dataclass
class Phase:
    path: str
    senders: int
    turns: list[float] = field(default_factory=list)
    callbacks: list[float] = field(default_factory=list)  # WeChat only
    pushed: int = 0
    lost: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    load: str = ""
    speed_ms: float = 0.0  # machine_speed_ms() when the phase began

    @property
    def per_second(self) -> float:
        return len(self.turns) / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_turn(self) -> float:
        return 1000 * sum(self.cpu.values()) / max(1, len(self.turns))

    def line(self) -> str:
        p50 = statistics.median(self.turns) * 1000
        p95 = pct(self.turns, 95) * 1000
        where = ", ".join(
            f"{name} {1000 * s / max(1, len(self.turns)):.0f}" for name, s in self.cpu.items()
        )
        text = (
            f"{self.path:6} {self.senders:>2} senders: {len(self.turns):>3} turns, "
            f"{self.per_second:5.1f} turns/s, p50 {p50:7.0f} ms, p95 {p95:7.0f} ms, "
            f"CPU {self.cpu_ms_per_turn:5.0f} ms/turn ({where})"
        )
        if self.path == "wechat":
            late4 = sum(c > 4.0 for c in self.callbacks)
            late5 = sum(c > 5.0 for c in self.callbacks)
            text += f"; callbacks past 4 s: {late4}, past 5 s: {late5}, pushed {self.pushed}"
        if self.lost:
            text += f"; NO ANSWER: {self.lost}"
        return text + f"  [load {self.load}; speed {self.speed_ms:.0f} ms]"


class Senders:
    def __init__(
        self, stack: Stack, wechat: FakeWeChat, client: httpx.AsyncClient, token: str
    ) -> None:
        self.stack = stack
        self.wechat = wechat
        self.client = client
        self.callbacks = WeChatCallbacks(token=token, app_id=wechat.app_id)

    async def rest_turn(self, phase: Phase, sender: str, text: str) -> None:
        started = time.perf_counter()
        r = await self.client.post(
            self.stack.rasa_url + "/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
        )
        r.raise_for_status()
        if not r.json():
            phase.lost += 1
        phase.turns.append(time.perf_counter() - started)

    async def wechat_turn(self, phase: Phase, openid: str, text: str) -> None:
        before = len(self.wechat.messages_to(openid))
        signed = self.callbacks.text(openid, text)
        started = time.perf_counter()
        r = await self.client.post(
            self.stack.app_url + "/channels/wechat", params=signed.params, content=signed.body
        )
        r.raise_for_status()
        answered = time.perf_counter()
        phase.callbacks.append(answered - started)
        if self.callbacks.read_reply(r.content) is None:
            # Past the budget: the answer goes out through the customer-service API.
            phase.pushed += 1
            while len(self.wechat.messages_to(openid)) <= before:
                if time.perf_counter() - started > PUSH_WAIT_SECONDS:
                    phase.lost += 1
                    break
                await asyncio.sleep(0.02)
            answered = time.perf_counter()
        phase.turns.append(answered - started)

    async def conversation(self, phase: Phase) -> None:
        openid = "o" + uuid.uuid4().hex[:27]
        for text in SCRIPT:
            if phase.path == "rest":
                # A conversation id the backend serves (the bot's actions call it for
                # the conversation): the same dialogue as on WeChat, identity checked
                # and claim filed. ("bench:…" was refused with 401, so bare Rasa's turns
                # did less work than the product's and the dialogue went elsewhere.)
                await self.rest_turn(phase, f"wechat:{openid}", text)
            else:
                await self.wechat_turn(phase, openid, text)


@dataclass
class Meter:
    """CPU seconds so far by part of the stack (`read`), and the processes py-spy
    attaches to with --profile (`spied`: one replica of each on the scaled topology)."""

    read: Callable[[], dict[str, float]]
    spied: dict[str, int]

    def since(self, before: dict[str, float]) -> dict[str, float]:
        after = self.read()
        return {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}


async def measure(senders: Senders, meter: Meter, path: str, level: int, sequential: int) -> Phase:
    phase = Phase(path, level, load=load_average(), speed_ms=machine_speed_ms())
    before = meter.read()
    started = time.perf_counter()
    if level == 1:
        for _ in range(sequential):
            await senders.conversation(phase)
    else:
        await asyncio.gather(*(senders.conversation(phase) for _ in range(level)))
    phase.seconds = time.perf_counter() - started
    phase.cpu = meter.since(before)
    return phase


@contextmanager
def profiling(directory: Path | None, spied: dict[str, int], label: str) -> Iterator[None]:
    if directory is None:
        yield
        return
    py_spy = os.environ.get("PY_SPY", "/tmp/pyspy/bin/py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--format",
                "raw",
                "--rate",
                "100",
                "--pid",
                str(pid),
                "--output",
                str(directory / f"{name}-{label}.txt"),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in spied.items()
    ]
    time.sleep(1.0)  # attached before the first turn
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            spy.wait(60)


@contextmanager
def stack_for(
    args: argparse.Namespace, workdir: Path, wechat: FakeWeChat, app_env: dict[str, str]
) -> Iterator[tuple[Stack, Meter, str]]:
    """The stack to measure, how to read its CPU, the WeChat token.

    --scaled: the topology of `make run-scaled` as `make test-scaled` starts it (nginx,
    two app and two Rasa replicas, two action servers, two workers, PostgreSQL, Redis)
    with WeChat's real reply budget; all its processes are one process group, counted
    by what each process is, and bare Rasa is reached through nginx's Rasa upstream."""
    if not args.scaled:
        with running_stack(workdir, app_env, args.model.resolve()) as stack:
            groups = {name: p.pid for name, p in stack.processes.items()}

            def read() -> dict[str, float]:
                now = group_cpu_seconds(groups.values())
                return {name: now[pid] for name, pid in groups.items()}

            spied = {k: v for k, v in groups.items() if k in ("app", "rasa", "actions")}
            yield stack, Meter(read, spied), WECHAT_TOKEN
        return
    # As make run-scaled does: nginx from Debian's package, installed once if missing.
    subprocess.run([str(ROOT / "scripts" / "ensure-nginx.sh")], check=True)
    budget = {"WECHAT_REPLY_BUDGET_SECONDS": "4"}
    with FakeTwilio() as twilio, running_scaled(workdir, wechat, twilio, budget) as scaled:
        stack = Stack(workdir, app_port=scaled.ports["public"], rasa_port=scaled.ports["rasa_lb"])
        group = scaled.process.pid
        spied = {name: scaled.pid(f"{name}1") for name in ("app", "rasa", "actions")}
        yield stack, Meter(lambda: role_cpu_seconds(group), spied), SCALED_WECHAT_TOKEN


async def run(args: argparse.Namespace, workdir: Path, database_url: str | None) -> None:
    levels = [int(n) for n in args.levels.split(",")]
    with FakeWeChat() as wechat:
        app_env = {
            "WECHAT_TOKEN": WECHAT_TOKEN,
            "WECHAT_APP_ID": wechat.app_id,
            "WECHAT_APP_SECRET": wechat.app_secret,
            "WECHAT_API_BASE_URL": wechat.base_url,
        }
        if database_url:
            app_env["DATABASE_URL"] = database_url
        with stack_for(args, workdir, wechat, app_env) as (stack, meter, token):
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
            async with httpx.AsyncClient(timeout=120, limits=limits) as client:
                senders = Senders(stack, wechat, client, token)
                # Warm-up: one conversation each way (caches, connections, lazy imports).
                for path in ("rest", "wechat"):
                    await senders.conversation(Phase(path, 1))
                # What the stack burns with nobody talking (pollers, timers): part of
                # every phase's CPU, more of it per turn the slower the turns come.
                before = meter.read()
                await asyncio.sleep(IDLE_SECONDS)
                idle = ", ".join(
                    f"{name} {1000 * seconds / IDLE_SECONDS:.0f}"
                    for name, seconds in meter.since(before).items()
                )
                print(f"idle CPU, ms per second: {idle}", flush=True)
                phases: list[Phase] = []
                for level in levels:
                    for path in ("rest", "wechat"):
                        profile = args.profile if level == 20 and path == "wechat" else None
                        context = (
                            profiling(profile, meter.spied, f"{path}{level}")
                            if profile
                            else nullcontext()
                        )
                        with context:
                            phase = await measure(senders, meter, path, level, args.sequential)
                        print(phase.line(), flush=True)
                        phases.append(phase)
    print()
    print("| senders | path | turns | turns/s | p50 | p95 | CPU/turn | callbacks > 4 s / > 5 s |")
    print("|---|---|---|---|---|---|---|---|")
    for phase in phases:
        late = (
            f"{sum(c > 4 for c in phase.callbacks)} / {sum(c > 5 for c in phase.callbacks)}"
            if phase.path == "wechat"
            else ""
        )
        print(
            f"| {phase.senders} | {'bare Rasa (REST)' if phase.path == 'rest' else 'WeChat'} "
            f"| {len(phase.turns)} | {phase.per_second:.1f} "
            f"| {statistics.median(phase.turns) * 1000:.0f} ms | {pct(phase.turns, 95) * 1000:.0f} ms "
            f"| {phase.cpu_ms_per_turn:.0f} ms | {late} |"
        )
    for rest, chat in zip(phases[::2], phases[1::2], strict=True):
        print(
            f"{rest.senders} senders: WeChat / bare Rasa: throughput "
            f"{chat.per_second / rest.per_second:.2f}, p50 "
            f"{statistics.median(chat.turns) / statistics.median(rest.turns):.2f}, "
            f"CPU per turn {chat.cpu_ms_per_turn / rest.cpu_ms_per_turn:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="1,20,50")
    parser.add_argument("--sequential", type=int, default=5, help="conversations at 1 sender")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument(
        "--scaled", action="store_true", help="on the topology of make run-scaled (PostgreSQL)"
    )
    args = parser.parse_args()
    if args.scaled and args.model != MODEL:
        parser.error("--scaled runs the trained model")
    print(
        f"turn bench, {date.today().isoformat()}, {os.cpu_count()} cores "
        f"{platform.machine()}, "
        f"{'scaled topology (PostgreSQL)' if args.scaled else f'database {args.database}'}, "
        f"model {args.model}, "
        f"load average {load_average()}, machine speed {machine_speed_ms():.0f} ms; "
        f"{len(SCRIPT)} messages per conversation"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.database == "postgres":
            with scratch_postgres("claims_bench_turn") as url:
                asyncio.run(run(args, workdir, url))
        else:
            asyncio.run(run(args, workdir, None))


if __name__ == "__main__":
    main()
