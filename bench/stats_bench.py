"""Figures and work-queue speed on PostgreSQL with a year of claims.

Usage: .venv/bin/python bench/stats_bench.py [--claims 100000] [--runs 10] [--queue-requests 50]

A throw-away PostgreSQL database (TEST_POSTGRES_URL, default the local `test` server)
is created, migrated to head, bulk-filled with SQLAlchemy Core inserts (not through the
API) and dropped afterwards:

- `--claims` claims reported over the last 365 days, every status, type and clock
  (documents complete, fast-track or adjuster decisions, some late, payments, rejection
  notices, closings, withdrawals), 6% with a risk flag, the clock columns as the claims
  service stores them (backend.core.clock.clock_values);
- about 2.5 notices (outbox rows) per claim over every route and outcome, 15% of the
  claims' count in handoffs (with their conversations), ratings for 40% of the closed
  claims, and outbound transcript lines with delivery statuses.

Then the real app runs under uvicorn on 127.0.0.1 (its own process) and an adjuster,
signed in by the staff API, reads `GET /api/v1/stats` for the default 12 weeks, for a
year, and for a year of one claim type (goal: 500 ms), and the workbench queue is read
`--queue-requests` times with varied filters (goal: p95 100 ms): through the console
page `/console/claims` when the app serves it, else `backend.claims.repository.
work_queue` called directly (the bench says which).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from backend.core.clock import Milestones, clock_values
from backend.core.db import make_engine
from backend.core.settings import Settings
from backend.domain.types import ClaimStatus, ClaimType
from backend.models import (
    Claim,
    Conversation,
    Coverage,
    Handoff,
    OutboxMessage,
    Policy,
    Policyholder,
    RiskFlagRecord,
    Survey,
    TranscriptMessage,
)
from backend.staff.service import upsert_staff
from tests.conftest import scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
BATCH = 5000
PASSWORD = "bench adjuster password"
TYPES = [ClaimType.MEDICAL, ClaimType.AUTO, ClaimType.PROPERTY, ClaimType.ACCIDENT]
TYPE_WEIGHTS = [50, 25, 10, 15]
ROUTES = ["wechat_customer_service", "wechat_template", "sms", "web"]
ROUTE_WEIGHTS = [55, 20, 20, 5]
OUTCOMES = ["delivered", "sent", "failed", "suppressed"]
OUTCOME_WEIGHTS = [75, 16, 6, 3]
REASONS = ["request_human", "complaint", "low_confidence", "document_problem"]


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, as the figures define it."""
    ordered = sorted(values)
    return ordered[max(1, -(-len(ordered) * int(p) // 100)) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ generated data


class Generator:
    """Claims and what goes with them, as plain dicts for executemany."""

    def __init__(self, settings: Settings, claims: int, seed: int = 12) -> None:
        self.settings = settings
        self.count = claims
        self.random = random.Random(seed)
        self.now = datetime.now(UTC)
        self.holders = max(1000, claims // 5)
        self.per_day: dict[date, int] = {}

    def _next_of_day(self, day: date) -> int:
        self.per_day[day] = self.per_day.get(day, 0) + 1
        return self.per_day[day]

    def _at(self, moment: datetime | None) -> datetime | None:
        return moment if moment is not None and moment <= self.now else None

    def claims(self) -> Iterator[dict[str, Any]]:
        rnd = self.random
        # Oldest first, as a real table fills: ids and times rise together.
        ages = sorted((rnd.uniform(0, 365 * 86400) for _ in range(self.count)), reverse=True)
        for claim_id, age in enumerate(ages, start=1):
            reported = self.now - timedelta(seconds=age)
            claim_type = rnd.choices(TYPES, TYPE_WEIGHTS)[0]
            amount = Decimal(rnd.choice([300, 800, 1500, 4000, 9000, 25000, 80000]))
            fast = amount <= 1500 and claim_type is ClaimType.MEDICAL and rnd.random() < 0.7
            withdrawn = rnd.random() < 0.03
            documents = (
                None
                if withdrawn or rnd.random() < 0.06
                else reported + timedelta(days=rnd.expovariate(1 / 3))
            )
            documents = self._at(documents)
            decided = approved = rejected = notified = paid = closed = None
            if documents is not None:
                wait = (
                    timedelta(minutes=rnd.uniform(1, 30))
                    if fast
                    else timedelta(days=rnd.triangular(1, 50, 12))
                )
                decided = self._at(documents + wait)
            if decided is not None:
                if fast or rnd.random() < 0.8:
                    approved = decided
                    paid = self._at(approved + timedelta(days=rnd.triangular(0.2, 16, 3)))
                    done = paid
                else:
                    rejected = decided
                    late = rnd.random() < 0.1
                    notified = self._at(
                        rejected
                        + timedelta(days=rnd.uniform(3.5 if late else 0, 6 if late else 2.5))
                    )
                    done = notified
                if done is not None and rnd.random() < 0.8:
                    closed = self._at(done + timedelta(days=rnd.uniform(2, 30)))
            withdrawn_at = self._at(reported + timedelta(days=2)) if withdrawn else None
            if closed is not None:
                status = ClaimStatus.CLOSED
            elif withdrawn_at is not None:
                status = ClaimStatus.WITHDRAWN
            elif paid is not None:
                status = ClaimStatus.PAID
            elif approved is not None:
                partial = rnd.random() < 0.1
                status = ClaimStatus.PARTIALLY_APPROVED if partial else ClaimStatus.APPROVED
            elif rejected is not None:
                status = ClaimStatus.REJECTED
            elif documents is not None:
                status = ClaimStatus.UNDER_REVIEW
            else:
                status = rnd.choice([ClaimStatus.REPORTED, ClaimStatus.DOCUMENTS_PENDING])
            milestones = Milestones(
                documents_completed_at=documents,
                approved_at=approved,
                rejected_at=rejected,
                rejection_notified_at=notified,
                paid_at=paid,
                withdrawn_at=withdrawn_at,
            )
            local = reported.astimezone(SHANGHAI).date()
            yield {
                "id": claim_id,
                "claim_number": f"CL{local:%Y%m%d}{self._next_of_day(local):04d}",
                "policy_id": rnd.randint(1, self.holders),
                "claim_type": claim_type,
                "status": status,
                "incident_date": local - timedelta(days=rnd.randint(0, 20)),
                "location": "北京",
                "description": "门诊 / 车损 / 财产损失",
                "claimed_amount": amount,
                "approved_amount": amount if approved else None,
                "payout_amount": amount if paid else None,
                "inpatient": False,
                "fast_track": fast and approved is not None,
                "reported_by": "bench",
                "reported_on": local,
                "documents_completed_at": documents,
                "decided_at": decided,
                "approved_at": approved,
                "rejected_at": rejected,
                "rejection_notified_at": notified,
                "withdrawn_at": withdrawn_at,
                "paid_at": paid,
                "closed_at": closed,
                "document_reminders_sent": 0,
                "created_at": reported,
                "updated_at": reported,
                **clock_values(self.settings, milestones),
            }


def batched(rows: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(engine: Engine, settings: Settings, claims: int) -> dict[str, int]:
    gen = Generator(settings, claims)
    rnd = gen.random
    counts: dict[str, int] = {}
    today = gen.now.astimezone(SHANGHAI).date()

    def put(table: Any, rows: Iterator[dict[str, Any]]) -> None:
        total = 0
        for batch in batched(rows):
            with engine.begin() as conn:
                conn.execute(insert(table), batch)
            total += len(batch)
        counts[table.name] = total

    put(
        Policyholder.__table__,
        (
            {
                "id": i,
                "name": f"客户{i}",
                "id_last4": f"{i % 10000:04d}",
                "phone": f"+86139{i:08d}",
                "preferred_language": "zh-CN",
                "notice_channel": "auto",
                "notices_paused": False,
                "created_at": gen.now,
            }
            for i in range(1, gen.holders + 1)
        ),
    )
    put(
        Policy.__table__,
        (
            {
                "id": i,
                "policy_number": f"P9{i:09d}",
                "policyholder_id": i,
                "start_date": date(today.year - 2, 1, 1),
                "end_date": date(today.year + 1, 12, 31),
                "created_at": gen.now,
            }
            for i in range(1, gen.holders + 1)
        ),
    )
    put(
        Coverage.__table__,
        (
            {
                "policy_id": i,
                "claim_type": ClaimType.MEDICAL,
                "limit": Decimal("50000"),
                "deductible": Decimal("0"),
                "ratio": Decimal("1.00"),
            }
            for i in range(1, gen.holders + 1)
        ),
    )
    # Claims first (kept in memory only as the few fields the other tables need).
    kept: list[
        tuple[int, str, int, datetime, datetime | None, datetime | None, datetime | None]
    ] = []

    def claim_rows() -> Iterator[dict[str, Any]]:
        for row in gen.claims():
            kept.append(
                (
                    row["id"],
                    row["claim_number"],
                    row["policy_id"],
                    row["created_at"],
                    row["decided_at"],
                    row["paid_at"],
                    row["closed_at"],
                )
            )
            yield row

    put(Claim.__table__, claim_rows())
    put(
        RiskFlagRecord.__table__,
        (
            {
                "claim_id": claim_id,
                "code": rnd.choice(["frequent_claims", "early_claim", "high_amount"]),
                "reason": "bench",
                "created_at": created,
            }
            for claim_id, _n, _p, created, *_ in kept
            if rnd.random() < 0.06
        ),
    )

    def notices() -> Iterator[dict[str, Any]]:
        # In the order they were written (by time), as the outbox fills.
        written = sorted(
            (moment, kind, claim_id, number, policy_id)
            for claim_id, number, policy_id, created, decided, paid, _closed in kept
            for kind, moment in (("claim_filed", created), ("approved", decided), ("paid", paid))
            if moment is not None
        )
        for moment, kind, claim_id, number, policy_id in written:
            recent = gen.now - moment < timedelta(minutes=30)
            status = "pending" if recent else rnd.choices(OUTCOMES, OUTCOME_WEIGHTS)[0]
            route = (
                None
                if status in ("pending", "suppressed")
                else rnd.choices(ROUTES, ROUTE_WEIGHTS)[0]
            )
            yield {
                "claim_id": claim_id,
                "claim_number": number,
                "policyholder_id": policy_id,
                "kind": kind,
                "payload": {},
                "status": status,
                "attempts": 1,
                "next_attempt_at": moment,
                "route": route,
                "last_error": "bench" if status == "failed" else None,
                "created_at": moment,
                "sent_at": moment if status in ("sent", "delivered") else None,
                "delivered_at": moment if status == "delivered" else None,
            }

    put(OutboxMessage.__table__, notices())

    conversations = max(100, claims * 15 // 100)
    channels = ["wechat", "sms", "web"]
    put(
        Conversation.__table__,
        (
            {
                "id": f"{channels[i % 3]}:bench{i}",
                "channel": channels[i % 3],
                "mode": "bot",
                "opted_out": False,
                "created_at": gen.now,
            }
            for i in range(conversations)
        ),
    )

    def handoffs() -> Iterator[dict[str, Any]]:
        ages = sorted((rnd.uniform(0, 365 * 86400) for _ in range(conversations)), reverse=True)
        for i, age in enumerate(ages):
            opened = gen.now - timedelta(seconds=age)
            accepted = rnd.random() < 0.85
            yield {
                "conversation_id": f"{channels[i % 3]}:bench{i}",
                "reason": rnd.choice(REASONS),
                "status": "closed" if accepted else rnd.choice(["open", "closed"]),
                "agent_username": "agent1" if accepted else None,
                "opened_at": opened,
                "accepted_at": opened + timedelta(seconds=rnd.lognormvariate(4, 1))
                if accepted
                else None,
                "callback": not accepted and rnd.random() < 0.5,
                "closed_at": opened + timedelta(hours=1) if accepted else None,
            }

    put(Handoff.__table__, handoffs())

    def surveys() -> Iterator[dict[str, Any]]:
        for _id, number, policy_id, _c, _d, _p, closed in kept:
            if closed is None or rnd.random() >= 0.4:
                continue
            rating = rnd.choices([1, 2, 3, 4, 5], [5, 7, 13, 35, 40])[0]
            yield {
                "conversation_id": "web:bench",
                "policyholder_id": policy_id,
                "claim_number": number,
                "rating": rating,
                "comment": "太慢了，没人回电话" if rating <= 2 else None,
                "created_at": closed + timedelta(hours=2),
            }

    put(Survey.__table__, surveys())

    def transcript() -> Iterator[dict[str, Any]]:
        statuses = ["delivered", "sent", "failed", "read", None]
        ages = sorted((rnd.uniform(0, 365 * 86400) for _ in range(claims)), reverse=True)
        for i, age in enumerate(ages):
            conversation = i % conversations
            yield {
                "conversation_id": f"{channels[conversation % 3]}:bench{conversation}",
                "direction": "outbound",
                "sender": "bot",
                "channel": channels[conversation % 3],
                "text": "您好",
                "delivery_status": rnd.choices(statuses, [60, 15, 5, 10, 10])[0],
                "bot_pending": False,
                "created_at": gen.now - timedelta(seconds=age),
            }

    put(TranscriptMessage.__table__, transcript())
    with engine.begin() as conn:
        for table in ("policyholders", "policies", "claims"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    return counts


# ------------------------------------------------------------------ timing


@contextmanager
def app_server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
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
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the app did not start")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def timed_gets(
    client: httpx.Client,
    path: str,
    params: Sequence[dict[str, str]],
    headers: dict[str, str] | None = None,
    warmup: int = 2,
) -> list[float]:
    """Milliseconds per GET, one per params entry, after `warmup` untimed GETs."""
    for entry in list(params)[:warmup]:
        client.get(path, params=entry, headers=headers).raise_for_status()
    times = []
    for entry in params:
        started = time.perf_counter()
        response = client.get(path, params=entry, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def queue_filters(rnd: random.Random, requests: int) -> list[dict[str, str]]:
    choices: list[dict[str, str]] = [
        {},
        {"overdue": "1"},
        {"claim_type": "auto"},
        {"status": "under_review"},
        {"risk": "1"},
        {"fast_track": "0", "claim_type": "medical"},
        {"status": "approved", "overdue": "1"},
        {"page": "3"},
        {"q": "CL2026"},
        {"q": "P900000"},
    ]
    return [rnd.choice(choices) for _ in range(requests)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--queue-requests", type=int, default=50)
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also time each SQL statement of the figures and EXPLAIN ANALYZE the slowest",
    )
    parser.add_argument(
        "--try-indexes",
        action="store_true",
        help="--explain, then again with indexes on the period columns (dropped afterwards)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, scratch_postgres("stats_bench") as url:
        env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")},
            "APP_ENV": "development",
            "DATABASE_URL": url,
            "VAR_DIR": f"{tmp}/var",
            "DOCUMENT_DIR": f"{tmp}/documents",
            "RASA_URL": "http://127.0.0.1:9",
        }
        settings = Settings(
            database_url=url,
            var_dir=Path(tmp) / "var",
            document_dir=Path(tmp) / "documents",
        )
        engine = make_engine(url)
        started = time.perf_counter()
        counts = fill(engine, settings, args.claims)
        fill_seconds = time.perf_counter() - started
        with Session(engine) as session:
            upsert_staff(session, "bench-adj", PASSWORD, "adjuster", "审核员")
            session.commit()
        print(
            f"filled in {fill_seconds:.0f} s: "
            + ", ".join(f"{name} {n:,}" for name, n in counts.items())
        )

        today = datetime.now(SHANGHAI).date()
        if args.explain or args.try_indexes:
            explain(engine, settings, today, try_indexes=args.try_indexes)
        year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
        results: list[tuple[str, list[float], float]] = []
        queue_mode = ""
        with app_server(env) as base, httpx.Client(base_url=base, timeout=60) as client:
            token = client.post(
                "/api/v1/staff/login", json={"username": "bench-adj", "password": PASSWORD}
            ).json()["access_token"]
            staff = {"Authorization": f"Bearer {token}"}
            for label, params in (
                ("figures, default 12 weeks", {}),
                ("figures, 1 year", year),
                ("figures, 1 year, medical", {**year, "claim_type": "medical"}),
            ):
                times = timed_gets(client, "/api/v1/stats", [params] * args.runs, staff)
                results.append((label, times, 500))
            csv_times = timed_gets(
                client, "/api/v1/stats/cycle_time_by_week.csv", [year] * args.runs, staff
            )
            results.append(("figure CSV (cycle time), 1 year", csv_times, 500))
            filters = queue_filters(random.Random(7), args.queue_requests)
            console = client.post(
                "/console/login",
                data={"username": "bench-adj", "password": PASSWORD},
                follow_redirects=False,
            )
            probe = client.get("/console/claims", follow_redirects=False)
            if console.status_code == 303 and probe.status_code == 200:
                queue_mode = "GET /console/claims (HTML page, signed-in adjuster)"
                times = timed_gets(client, "/console/claims", filters)
                results.append(("workbench queue page", times, 100))
        if not queue_mode:
            queue_mode = (
                "backend.claims.repository.work_queue called directly (no /console/claims yet)"
            )
            results.append(
                ("workbench queue (repository)", repository_queue(engine, filters, today), 100)
            )
        engine.dispose()

    print()
    print(
        f"stats bench: {args.claims:,} claims on PostgreSQL, {platform.node()} "
        f"({os.cpu_count()} cores), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"queue read through: {queue_mode}")
    print(f"{'what':36} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  goal")
    for label, times, goal in results:
        p95 = pct(times, 95)
        verdict = (
            "met" if (p95 if "queue" in label else statistics.median(times)) <= goal else "NOT met"
        )
        print(
            f"{label:36} {len(times):>4} {pct(times, 50):>8.0f} {p95:>8.0f} {max(times):>8.0f}"
            f"  {'p95' if 'queue' in label else 'p50'} <= {goal} ms: {verdict}"
        )


# Indexes tried by --try-indexes: the period columns the figures filter on.
CANDIDATE_INDEXES = {
    "ix_try_claims_reported_on": "claims (reported_on)",
    "ix_try_claims_paid_on": "claims (paid_on)",
    "ix_try_claims_decided_on": "claims (decided_on)",
    "ix_try_claims_closed_at": "claims (closed_at)",
    "ix_try_claims_approved_at": "claims (approved_at)",
    "ix_try_outbox_created_at": "outbox (created_at)",
    "ix_try_transcript_created_at": "transcript_messages (created_at)",
    "ix_try_handoffs_opened_at": "handoffs (opened_at)",
    "ix_try_surveys_created_at": "surveys (created_at)",
}


def explain(engine: Engine, settings: Settings, today: date, *, try_indexes: bool) -> None:
    """Each statement of the figures with its time, the plans of the slowest, for the
    default 12 weeks and a year; with `try_indexes`, again after adding the candidates."""
    rounds = [False, True] if try_indexes else [False]
    for indexed in rounds:
        if indexed:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for name, target in CANDIDATE_INDEXES.items():
                    conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {target}"))
                conn.execute(text("ANALYZE"))
        for days in (84, 365):
            _explain_period(
                engine, settings, today, days, "with candidate indexes" if indexed else ""
            )
    if try_indexes:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in CANDIDATE_INDEXES:
                conn.execute(text(f"DROP INDEX IF EXISTS {name}"))


def _explain_period(engine: Engine, settings: Settings, today: date, days: int, note: str) -> None:
    from sqlalchemy import event

    from backend.stats import service

    statements: list[tuple[float, str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        conn.info["started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        elapsed = (time.perf_counter() - conn.info.pop("started")) * 1000
        statements.append((elapsed, statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    walls = []
    try:
        for _ in range(3):
            statements.clear()
            with Session(engine) as session:
                started = time.perf_counter()
                service.figures(
                    session,
                    settings,
                    start=today - timedelta(days=days - 1),
                    end=today,
                    claim_type=None,
                    today=today,
                )
                walls.append((time.perf_counter() - started) * 1000)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    total = sum(elapsed for elapsed, *_ in statements)
    print(
        f"\n{days} days {note}: service.figures() {min(walls):.0f} ms (best of 3), "
        f"last run {len(statements)} statements, {total:.0f} ms in the database:"
    )
    ranked = sorted(statements, key=lambda item: -item[0])
    for elapsed, statement, _ in ranked[:8]:
        print(f"  {elapsed:7.1f} ms  {' '.join(statement.split())[:120]}")
    with engine.connect() as conn:
        for _elapsed, statement, parameters in ranked[:2]:
            plan = conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters).all()
            print("    " + "\n    ".join(line for (line,) in plan))


def repository_queue(engine: Engine, filters: list[dict[str, str]], today: date) -> list[float]:
    from backend.claims.repository import QueueFilters, work_queue

    def as_filters(params: dict[str, str]) -> tuple[QueueFilters, int]:
        flags = {k: params[k] == "1" for k in ("overdue", "risk", "fast_track") if k in params}
        return (
            QueueFilters(
                status=ClaimStatus(params["status"]) if "status" in params else None,
                claim_type=ClaimType(params["claim_type"]) if "claim_type" in params else None,
                search=params.get("q"),
                **flags,
            ),
            int(params.get("page", "1")),
        )

    times = []
    with Session(engine) as session:
        for params in filters[:2] + filters:
            queue_filter, page = as_filters(params)
            started = time.perf_counter()
            work_queue(session, queue_filter, today=today, page=page)
            times.append((time.perf_counter() - started) * 1000)
            session.rollback()
    return times[2:]


if __name__ == "__main__":
    main()
