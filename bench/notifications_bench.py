"""Notification figures: how fast a claim's change reaches the customer by itself.

Usage: .venv/bin/python bench/notifications_bench.py [--approvals 30] [--notices 10000]
       [--customers 1000] [--workers 2]

Needs PostgreSQL (TEST_POSTGRES_URL, default the local `test` server; a throw-away
database is created and dropped) and Redis (REDIS_URL, default 127.0.0.1:6379) for the
worker's wake-up. WeChat and Twilio are the loopback fakes of the tests; Rasa is not
involved (notices are rendered from domain.yml and told to the bot at its next turn).

1. Fast track: the real app under uvicorn and one worker process
   (`python -m backend.notifications.worker`). Each sample is a new customer bound to a
   WeChat conversation with the 48-hour window open, who filed a small medical claim and
   sent all documents but one. Timed: the last document attached (the request that runs
   the automatic review) → the approval notice accepted by the fake WeChat API.
2. Throughput: `--notices` status changes (approvals) for `--customers` customers — 70%
   WeChat with the window open (customer-service message), 20% WeChat outside it
   (template message), 10% SMS only — committed at once, delivered by `--workers`
   worker processes. Every notice carries a distinct amount, so what the fakes received
   is counted per notice: lost = never received, duplicated = received twice.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from backend.claims.moves import Who
from backend.claims.reporting import NewClaim, report_claim
from backend.composition import outbox_channel
from backend.core.db import make_engine, make_session_factory, transaction
from backend.core.settings import Settings
from backend.domain.types import Actor, ClaimType, NoticeKind
from backend.main import create_app
from backend.models import (
    ChannelIdentity,
    Claim,
    Conversation,
    Coverage,
    OutboxMessage,
    Policy,
    Policyholder,
)
from backend.notifications.outbox import enqueue
from tests.conftest import scratch_postgres
from tests.fakes.fake_twilio import FakeTwilio
from tests.fakes.fake_wechat import FakeWeChat

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
PUBLIC_BASE_URL = "https://claims.example.com"
TWILIO_NUMBER = "+15005550006"
TEMPLATES = {"approved": "tmpl-approved", "claim_filed": "tmpl-filed"}
STAFF = Who(Actor.AGENT, "bench-agent")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(200))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(url: str, tmp: Path, wechat: FakeWeChat, twilio: FakeTwilio) -> dict[str, str]:
    """The environment both the app and the workers read (as `make run` gives them)."""
    tuning = {
        k: os.environ[k] for k in ("NOTICE_CONCURRENCY", "NOTICE_BATCH_SIZE") if k in os.environ
    }
    return {
        **tuning,
        "APP_ENV": "development",
        "VAR_DIR": str(tmp / "var"),
        "DOCUMENT_DIR": str(tmp / "documents"),
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:",
        "RASA_URL": "http://127.0.0.1:9",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "WECHAT_APP_ID": wechat.app_id,
        "WECHAT_APP_SECRET": wechat.app_secret,
        "WECHAT_API_BASE_URL": wechat.base_url,
        "WECHAT_TEMPLATES": json.dumps(TEMPLATES),
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": TWILIO_NUMBER,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "SMS_QUIET_HOURS": "",
        "BOT_SERVICE_TOKEN": "bench-bot-token-" + secrets.token_hex(8),
    }


@contextmanager
def workers(count: int, env: dict[str, str], tmp: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    processes = []
    for index in range(count):
        workdir = tmp / f"worker-{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        log = (tmp / f"worker-{index}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    *profile_args(tmp / f"worker-{index}.prof"),
                    "-m",
                    "backend.notifications.worker",
                ],
                cwd=workdir,
                env={**base, **env, "PYTHONPATH": str(ROOT)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        time.sleep(3)  # imports and the first heartbeat, not part of the figures
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"a worker died at start; see {tmp}/worker-*.log")
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has spent so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile_args(path: Path) -> list[str]:
    """With --profile each worker runs under cProfile, its stats written at exit."""
    return ["-m", "cProfile", "-o", str(path)] if os.environ.get("BENCH_PROFILE") else []


def add_customer(session: Session, index: int, today: date) -> tuple[Policyholder, Policy]:
    holder = Policyholder(name=f"客户{index}", id_last4=f"{index % 10000:04d}", phone=phone(index))
    session.add(holder)
    session.flush()
    policy = Policy(
        policy_number=f"P9{index:09d}",
        policyholder_id=holder.id,
        start_date=date(today.year - 1, 1, 1),
        end_date=date(today.year + 1, 12, 31),
    )
    session.add(policy)
    session.flush()
    session.add(
        Coverage(
            policy_id=policy.id,
            claim_type=ClaimType.MEDICAL,
            limit=Decimal("50000"),
            deductible=Decimal("0"),
            ratio=Decimal("1.00"),
        )
    )
    return holder, policy


def phone(index: int) -> str:
    return f"+86139{index:08d}"


def bind(session: Session, holder: Policyholder, conversation_id: str, window_open: bool) -> None:
    last = datetime.now(UTC) if window_open else None
    session.add(
        Conversation(
            id=conversation_id,
            channel=conversation_id.split(":", 1)[0],
            last_inbound_at=last,
            last_customer_message_at=last,
        )
    )
    session.add(
        ChannelIdentity(
            conversation_id=conversation_id,
            channel=conversation_id.split(":", 1)[0],
            policyholder_id=holder.id,
        )
    )


def wait_for(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.002)


# ------------------------------------------------------------------ 1. fast track


def fast_track(url: str, tmp: Path, samples: int) -> None:
    with FakeWeChat() as wechat, FakeTwilio() as twilio:
        env = settings_for(url, tmp, wechat, twilio)
        sessions = make_session_factory(make_engine(url))
        today = datetime.now(SHANGHAI).date()
        customers = []
        with transaction(sessions) as session:
            for index in range(samples):
                holder, policy = add_customer(session, 500_000 + index, today)
                openid = "o" + uuid.uuid4().hex[:27]
                bind(session, holder, f"wechat:{openid}", window_open=True)
                customers.append((openid, policy.policy_number))
        os.environ.update(env)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(base), 30, "the app")
        timings: list[float] = []
        statuses: Counter[str] = Counter()
        with workers(1, env, tmp / "fast"), httpx.Client(base_url=base, timeout=30) as client:
            for openid, _policy_number in customers:
                bot = {
                    "Authorization": f"Bearer {env['BOT_SERVICE_TOKEN']}",
                    "X-Conversation-Id": f"wechat:{openid}",
                }
                r = client.post(
                    "/api/v1/claims",
                    headers={**bot, "Idempotency-Key": str(uuid.uuid4())},
                    json={
                        "claim_type": "medical",
                        "incident_date": (today - timedelta(days=2)).isoformat(),
                        "location": "北京协和医院",
                        "description": "感冒发烧看门诊",
                        "claimed_amount": "800.00",
                    },
                )
                r.raise_for_status()
                number = r.json()["claim_number"]
                items = [i["code"] for i in r.json()["missing"]]
                docs = []
                for code in items:
                    up = client.post(
                        "/api/v1/documents", content=PNG + uuid.uuid4().bytes, headers=bot
                    )
                    up.raise_for_status()
                    docs.append((code, up.json()["document_id"]))
                for code, doc in docs[:-1]:
                    client.post(
                        f"/api/v1/claims/{number}/documents/{doc}/attach",
                        headers=bot,
                        json={"item_code": code},
                    ).raise_for_status()
                wait_for(
                    lambda o=openid, n=number: _pushed(wechat, o, f"报案已受理，理赔号 {n}"),
                    30,
                    "the filing notice",
                )
                code, doc = docs[-1]
                start = time.perf_counter()
                last = client.post(
                    f"/api/v1/claims/{number}/documents/{doc}/attach",
                    headers=bot,
                    json={"item_code": code},
                )
                last.raise_for_status()
                statuses[last.json()["status"]] += 1
                wait_for(
                    lambda o=openid, n=number: _pushed(wechat, o, f"理赔 {n} 审核通过"),
                    30,
                    "the approval notice",
                )
                timings.append(time.perf_counter() - start)
        server.should_exit = True
        print(
            f"fast track, last document attached -> approval accepted by the WeChat API: "
            f"p50 {statistics.median(timings) * 1000:.0f} ms, p95 {pct(timings, 95) * 1000:.0f} ms, "
            f"max {max(timings) * 1000:.0f} ms over {len(timings)} claims "
            f"(claim status after the last document: {dict(statuses)})"
        )


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/health", timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def _pushed(wechat: FakeWeChat, openid: str, words: str) -> bool:
    return any(
        words in str((m.get("text") or {}).get("content") or "") for m in wechat.messages_to(openid)
    )


# ------------------------------------------------------------------ 2. throughput

AMOUNT = re.compile(r"赔付 ¥([\d,]+\.\d\d)")


def throughput(url: str, tmp: Path, notices: int, customers: int, worker_count: int) -> None:
    with FakeWeChat() as wechat, FakeTwilio() as twilio:
        env = settings_for(url, tmp, wechat, twilio)
        os.environ.update(env)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        sessions = make_session_factory(make_engine(url))
        today = datetime.now(SHANGHAI).date()
        started = time.perf_counter()
        claims = file_claims(sessions, settings, customers, today)
        print(
            f"  (set-up: {customers} customers with a claim each in "
            f"{time.perf_counter() - started:.1f} s)"
        )
        expected: set[str] = set()
        with workers(worker_count, env, tmp / "throughput") as processes:
            writing = time.perf_counter()
            with transaction(sessions) as session:
                for index in range(notices):
                    claim = session.get(Claim, claims[index % len(claims)])
                    assert claim is not None
                    amount = f"{10000 + index}.00"
                    expected.add(amount)
                    enqueue(
                        session,
                        claim,
                        NoticeKind.APPROVED,
                        approved_amount=amount,
                        payout_amount=amount,
                        payment_due=(today + timedelta(days=10)).isoformat(),
                    )
            start = time.perf_counter()  # the changes are committed: the clock starts
            committed = start - writing
            worker_cpu = sum(cpu_seconds(p.pid) for p in processes)
            own_cpu = time.process_time()
            _publish_wake(env)

            def open_rows() -> int:
                with transaction(sessions) as session:
                    return int(
                        session.scalar(
                            select(func.count())
                            .select_from(OutboxMessage)
                            .where(OutboxMessage.status.in_(("pending", "sending")))
                        )
                        or 0
                    )

            last_report = time.perf_counter()
            while open_rows():
                time.sleep(0.2)
                if time.perf_counter() - last_report > 10:
                    last_report = time.perf_counter()
                    received = (
                        len(wechat.sent_messages)
                        + len(wechat.template_messages)
                        + len(twilio.messages)
                    )
                    print(f"  ... {received} received after {last_report - start:.0f} s")
                if time.perf_counter() - start > 900:
                    raise SystemExit("not all notices were delivered within 15 minutes")
            elapsed = time.perf_counter() - start
            worker_cpu = sum(cpu_seconds(p.pid) for p in processes) - worker_cpu
            own_cpu = time.process_time() - own_cpu
        received = Counter[str]()
        for message in wechat.sent_messages:
            received.update(AMOUNT.findall(str((message.get("text") or {}).get("content"))))
        for message in wechat.template_messages:
            value = str(message["data"]["amount3"]["value"]).removesuffix("元")
            received[value] += 1
        for message in twilio.messages:
            received.update(AMOUNT.findall(str(message["body"])))
        received = Counter({k.replace(",", ""): v for k, v in received.items()})
        lost = len(expected - set(received))
        duplicated = sum(count - 1 for count in received.values() if count > 1)
        with transaction(sessions) as session:
            by_status = dict(
                session.execute(
                    select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                ).all()
            )
            by_route = dict(
                session.execute(
                    select(OutboxMessage.route, func.count()).group_by(OutboxMessage.route)
                ).all()
            )
        print(
            f"throughput: {notices} status changes on PostgreSQL, {worker_count} workers: "
            f"all delivered {elapsed:.1f} s after the commit = {notices / elapsed:.0f} notices/s "
            f"(writing them took {committed:.1f} s before); lost {lost}, duplicated "
            f"{duplicated}; outbox {by_status}; routes {by_route}"
        )
        print(
            f"  CPU while delivering: workers {worker_cpu:.1f} s "
            f"({worker_cpu / notices * 1000:.1f} ms per notice), the fake platforms and this "
            f"script {own_cpu:.1f} s; PostgreSQL not counted"
        )


def file_claims(
    sessions: sessionmaker[Session], settings: Settings, count: int, today: date
) -> list[int]:
    claims = []
    with transaction(sessions) as session:
        for index in range(count):
            holder, policy = add_customer(session, index, today)
            share = index % 10
            if share < 9:
                bind(session, holder, f"wechat:o{uuid.uuid4().hex[:27]}", window_open=share < 7)
            claim, _ = report_claim(
                session,
                settings,
                STAFF,
                NewClaim(
                    claim_type=ClaimType.MEDICAL,
                    incident_date=today - timedelta(days=3),
                    location="北京协和医院",
                    description="门诊",
                    claimed_amount=Decimal("5000"),
                    policy_number=policy.policy_number,
                ),
                uuid.uuid4().hex,
            )
            claims.append(claim.id)
        # The filing notices are not part of the measured changes.
        session.execute(
            update(OutboxMessage)
            .values(status="suppressed")
            .where(OutboxMessage.kind == "claim_filed")
        )
    return claims


def _publish_wake(env: dict[str, str]) -> None:
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    client.publish(outbox_channel(Settings(_env_file=None)), "bench")  # type: ignore[call-arg]
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--approvals", type=int, default=30)
    parser.add_argument("--notices", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, help="NOTICE_CONCURRENCY of each worker")
    parser.add_argument("--batch", type=int, help="NOTICE_BATCH_SIZE of each worker")
    parser.add_argument("--profile", action="store_true", help="cProfile the workers")
    args = parser.parse_args()
    if args.profile:
        os.environ["BENCH_PROFILE"] = "1"
    if args.concurrency:
        os.environ["NOTICE_CONCURRENCY"] = str(args.concurrency)
    if args.batch:
        os.environ["NOTICE_BATCH_SIZE"] = str(args.batch)
    print(
        f"# notifications bench {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL + Redis"
    )
    tmp = Path(tempfile.mkdtemp(prefix="notices-bench-"))
    if args.approvals:
        with scratch_postgres("notices_bench") as url:
            fast_track(url, tmp / "fast", args.approvals)
    if args.notices:
        with scratch_postgres("notices_bench") as url:
            throughput(url, tmp / "throughput", args.notices, args.customers, args.workers)


if __name__ == "__main__":
    main()
