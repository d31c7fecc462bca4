"""After a key rotation, old documents are moved to the new key so the old key can go;
nothing is lost on the way, and a damaged document is reported, not rewritten."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from backend.core.settings import Settings
from backend.documents.crypto import blob_key_id
from backend.documents.rotation import reencrypt_documents
from backend.documents.storage import LocalDirectoryStore
from backend.models import Document
from tests.backend.documents.conftest import (
    JPEG,
    PDF,
    PNG,
    SECRET_TEXT,
    bot_headers,
    operator_env,
    random_key,
    run_python,
    stored_files,
)


def test_old_documents_move_to_the_new_key_and_the_old_key_can_go(
    client: TestClient,
    settings: Settings,
    session: Session,
    session_factory: sessionmaker[Session],
) -> None:
    old_key, new_key = random_key(), random_key()
    settings.document_keys = SecretStr(f"old:{old_key}")
    headers = bot_headers(settings, "web:rotate")
    originals = {}
    for data in (PNG, JPEG, PDF + b"% " + SECRET_TEXT):
        response = client.post("/api/v1/documents", content=data, headers=headers)
        assert response.status_code == 201, response.text
        originals[response.json()["document_id"]] = data
    broken_id = next(iter(originals))
    broken = session.get(Document, broken_id)
    assert broken is not None
    store = LocalDirectoryStore(settings.document_dir)
    store.put(broken.storage_key, b"CDv1\x03old" + bytes(40))  # damaged on disk
    broken_blob_before = store.get(broken.storage_key)

    settings.document_keys = SecretStr(f"new:{new_key},old:{old_key}")  # rotation
    seen: list[int] = []
    report = reencrypt_documents(
        session_factory, store, settings, progress=lambda r: seen.append(r.reencrypted)
    )
    assert report.to_do == 3 and report.reencrypted == 2
    assert [document_id for document_id, _ in report.failed] == [broken_id]
    assert "integrity" in report.failed[0][1]
    assert seen == [2]

    session.expire_all()
    rows = {d.id: d for d in session.query(Document)}
    assert {d.key_id for i, d in rows.items() if i != broken_id} == {"new"}
    assert rows[broken_id].key_id == "old"  # left exactly as it was
    assert store.get(rows[broken_id].storage_key) == broken_blob_before
    # Only the current blobs remain: the old ones were deleted after each commit.
    assert len(stored_files(settings)) == 3
    for document_id, row in rows.items():
        if document_id != broken_id:
            blob = store.get(row.storage_key)
            assert blob_key_id(blob) == "new" and SECRET_TEXT not in blob

    settings.document_keys = SecretStr(f"new:{new_key}")  # the old key is gone
    for document_id, data in originals.items():
        response = client.get(f"/api/v1/documents/{document_id}/content", headers=headers)
        if document_id == broken_id:
            assert response.status_code == 500
        else:
            assert response.status_code == 200 and response.content == data

    again = reencrypt_documents(session_factory, store, settings)
    assert again.reencrypted == 0 and [d for d, _ in again.failed] == [broken_id]


def test_the_operator_command_says_when_old_keys_may_go(tmp_path: Path) -> None:
    first, second = random_key(), random_key()
    env = operator_env(tmp_path, DOCUMENT_KEYS=f"k1:{first}")

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        return run_python(env, *args)

    assert python("-m", "backend.cli", "migrate").returncode == 0
    store_one = (
        "from backend.core.db import make_engine, make_session_factory, transaction\n"
        "from backend.core.settings import Settings\n"
        "from backend.documents.service import open_document_store, store_document\n"
        "s = Settings()\n"
        "with transaction(make_session_factory(make_engine(s.database_url))) as session:\n"
        f"    store_document(session, open_document_store(s), s, {PNG!r}, 'web:x', None)\n"
    )
    assert python("-c", store_one).returncode == 0

    env["DOCUMENT_KEYS"] = f"k2:{second},k1:{first}"
    done = python("-m", "backend.cli", "reencrypt-documents")
    assert done.returncode == 0, done.stderr
    assert "re-encrypting documents with key 'k2'" in done.stdout
    assert "done: 1 re-encrypted, 0 could not be; older keys may now leave" in done.stdout
    assert first not in done.stdout + done.stderr and second not in done.stdout + done.stderr
