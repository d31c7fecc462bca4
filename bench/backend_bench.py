"""Backend figures against PostgreSQL: reports/s, claim read latency, automatic review time.

Usage: .venv/bin/python bench/backend_bench.py [--claims 300] [--reads 500] [--concurrency 8]
Creates a throw-away database on TEST_POSTGRES_URL's server, runs the real app under
uvicorn on 127.0.0.1 and drives it over HTTP; drops the database at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn
from sqlalchemy import text

from backend.core import migrate
from backend.core.db import make_engine, make_session_factory, transaction
from backend.core.settings import Settings
from backend.demo import load_demo_data
from backend.main import create_app
from backend.staff.service import upsert_staff

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(200))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    server_url = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"claims_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server_url.rsplit("/", 1)[0] + "/" + name
    tmp = Path(tempfile.mkdtemp(prefix="claims-bench-"))
    try:
        run(url, tmp, args)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run(url: str, tmp: Path, args: argparse.Namespace) -> None:
    print(
        f"# backend bench {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL"
    )
    migrate.upgrade(url)
    engine = make_engine(url)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    with transaction(make_session_factory(engine)) as session:
        load_demo_data(session, today)
        upsert_staff(session, "bench", "bench-password-123", "adjuster", "bench")
    settings = Settings(
        database_url=url,
        var_dir=tmp / "var",
        document_dir=tmp / "docs",
        rasa_url="http://127.0.0.1:9",
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", workers=1
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    assert settings.bot_service_token is not None
    bot = {
        "Authorization": f"Bearer {settings.bot_service_token.get_secret_value()}",
        "X-Conversation-Id": "web:bench",
    }
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post(
            "/api/v1/identities/verify",
            headers=bot,
            json={"policy_number": "P2025000001", "id_last4": "1234"},
        ).raise_for_status()
        staff_token = client.post(
            "/api/v1/staff/login", json={"username": "bench", "password": "bench-password-123"}
        ).json()
        staff = {"Authorization": f"Bearer {staff_token['access_token']}"}
        incident = (today - timedelta(days=1)).isoformat()

        def report(_: int) -> str:
            r = client.post(
                "/api/v1/claims",
                headers={**bot, "Idempotency-Key": str(uuid.uuid4())},
                json={
                    "claim_type": "medical",
                    "incident_date": incident,
                    "location": "北京",
                    "description": "门诊",
                    "claimed_amount": "200.00",
                },
            )
            r.raise_for_status()
            return str(r.json()["claim_number"])

        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            numbers = list(pool.map(report, range(args.claims)))
        elapsed = time.perf_counter() - start
        print(
            f"claims created: {args.claims} in {elapsed:.2f} s = {args.claims / elapsed:.1f} claims/s "
            f"({args.concurrency} concurrent clients)"
        )

        # Give one claim all its documents but the last, then time the last attach,
        # which runs the automatic review (and the fast track) in the same request.
        review_times = []
        outcomes: list[str] = []
        for number in numbers[:20]:
            claim = client.get(f"/api/v1/claims/{number}", headers=bot).json()
            items = [i["code"] for i in claim["missing"]]
            docs = []
            for code in items:
                r = client.post("/api/v1/documents", content=PNG + uuid.uuid4().bytes, headers=bot)
                docs.append((code, r.json()["document_id"]))
            for code, doc in docs[:-1]:
                client.post(
                    f"/api/v1/claims/{number}/documents/{doc}/attach",
                    headers=bot,
                    json={"item_code": code},
                ).raise_for_status()
            code, doc = docs[-1]
            t0 = time.perf_counter()
            r = client.post(
                f"/api/v1/claims/{number}/documents/{doc}/attach",
                headers=bot,
                json={"item_code": code},
            )
            review_times.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
            outcomes.append(r.json()["status"])
        # (With hundreds of claims on one demo policy the frequent_claims flag sends
        # them to manual review: the rules run in full either way.)
        print(
            f"automatic review (last document attached -> review, one request): "
            f"p50 {statistics.median(review_times):.1f} ms, max {max(review_times):.1f} ms "
            f"over 20 claims; outcomes: {sorted(set(outcomes))}"
        )

        reads = []
        for i in range(args.reads):
            number = numbers[i % 20]
            t0 = time.perf_counter()
            client.get(f"/api/v1/claims/{number}", headers=staff).raise_for_status()
            reads.append((time.perf_counter() - t0) * 1000)
        print(
            f"read a claim with its documents and events (staff view): p50 {pct(reads, 50):.1f} ms, "
            f"p95 {pct(reads, 95):.1f} ms over {args.reads} reads"
        )
    server.should_exit = True
    thread.join(10)
    engine.dispose()


if __name__ == "__main__":
    main()
