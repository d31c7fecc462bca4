"""Blobs that no document row points to (a process killed between writing the blob and
the commit) are found and removed; documents, fresh uploads in flight and other files
are left alone."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.documents.storage import LocalDirectoryStore, S3Store, new_storage_key
from backend.documents.sweep import SweepReport, sweep_orphan_blobs
from tests.backend.documents.conftest import (
    JPEG,
    PDF,
    PNG,
    bot_headers,
    operator_env,
    run_python,
)

DAY = 24 * 3600


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_orphans_go_documents_and_uploads_in_flight_stay(
    client: TestClient, settings: Settings, session: Session
) -> None:
    headers = bot_headers(settings, "web:sweep")
    ids = []
    for data in (PNG, JPEG, PDF):
        response = client.post("/api/v1/documents", content=data, headers=headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["document_id"])
    store = LocalDirectoryStore(settings.document_dir)
    root = settings.document_dir.resolve()
    for path in root.rglob("*"):
        if path.is_file():
            _age(path, 3 * DAY)  # the documents are old too: age alone removes nothing
    orphan, in_flight = new_storage_key(), new_storage_key()
    store.put(orphan, b"left by a crash")
    store.put(in_flight, b"row not committed yet")
    _age(root / orphan, 2 * DAY)
    stale_tmp = root / "ab" / ".tmp-crashed"
    stale_tmp.parent.mkdir(parents=True, exist_ok=True)
    stale_tmp.write_bytes(b"half a blob")
    _age(stale_tmp, 2 * DAY)
    (root / "README").write_text("not a blob")
    _age(root / "README", 2 * DAY)

    seen: list[int] = []
    dry = sweep_orphan_blobs(
        session, store, dry_run=True, progress=lambda r: seen.append(r.checked)
    )
    assert (dry.checked, dry.orphans, dry.deleted) == (4, 1, 0)
    assert seen == [4]
    assert (root / orphan).exists()

    report = sweep_orphan_blobs(session, store)
    assert (report.orphans, report.deleted) == (1, 1)
    assert not (root / orphan).exists()
    assert (root / in_flight).exists()  # younger than the grace period
    assert not stale_tmp.exists()
    assert (root / "README").exists()
    for document_id in ids:
        content = client.get(f"/api/v1/documents/{document_id}/content", headers=headers)
        assert content.status_code == 200
    assert sweep_orphan_blobs(session, store).orphans == 0


def test_s3_orphans_are_found_too(s3_settings: Settings, session: Session) -> None:
    store = S3Store.from_settings(s3_settings)
    orphans = [new_storage_key() for _ in range(3)]
    for key in orphans:
        store.put(key, b"orphan")
    store.client.put_object(Bucket=store.bucket, Key="not-ours.txt", Body=b"x")
    fresh = sweep_orphan_blobs(session, store)
    assert fresh == SweepReport(0, 0, 0)  # all written just now
    later = datetime.now(UTC) + timedelta(days=2)
    report = sweep_orphan_blobs(session, store, now=later)
    assert (report.checked, report.deleted) == (3, 3)
    listed = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    assert [item["Key"] for item in listed] == ["not-ours.txt"]


def test_the_operator_command_reports_what_it_did(tmp_path: Path) -> None:
    env = operator_env(tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_python(env, "-m", "backend.cli", *args)

    assert cli("migrate").returncode == 0
    store = LocalDirectoryStore(tmp_path / "documents")
    old, new = new_storage_key(), new_storage_key()
    store.put(old, b"orphan")
    store.put(new, b"orphan")
    _age(tmp_path / "documents" / old, 2 * DAY)

    dry = cli("sweep-blobs", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "checked 1 blobs; would delete 1 orphaned" in dry.stdout
    assert (tmp_path / "documents" / old).exists()

    real = cli("sweep-blobs", "--older-than-hours", "0")
    assert real.returncode == 0, real.stderr
    assert "checked 2 blobs; deleted 2 orphaned" in real.stdout
    assert not any(p.is_file() for p in (tmp_path / "documents").rglob("*"))

    bad = cli("sweep-blobs", "--older-than-hours", "-1")
    assert bad.returncode == 2 and "must not be negative" in bad.stderr
