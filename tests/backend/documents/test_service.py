from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.db import make_engine
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.documents.service import display_name, read_document, store_document
from backend.documents.storage import LocalDirectoryStore, S3Store, make_document_store
from backend.models import Document
from tests.backend.documents.conftest import (
    HEIC,
    JPEG,
    PDF,
    PNG,
    SECRET_TEXT,
    document_count,
    random_key,
    stored_files,
)

MEDICAL_PDF = PDF + b"% " + SECRET_TEXT + b"\n"


@pytest.fixture
def store(settings: Settings) -> LocalDirectoryStore:
    return LocalDirectoryStore(settings.document_dir)


def refused(excinfo: pytest.ExceptionInfo[ApiError]) -> tuple[int, str]:
    return excinfo.value.status_code, excinfo.value.code


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (MEDICAL_PDF, "application/pdf"),
        (HEIC, "image/heic"),
    ],
)
def test_stored_encrypted_and_read_back_unchanged(
    session: Session, store: LocalDirectoryStore, settings: Settings, data: bytes, media_type: str
) -> None:
    document = store_document(session, store, settings, data, "web:abc", "scan.bin")
    assert re.fullmatch(r"d_[0-9a-f]{32}", document.id)
    assert (document.media_type, document.size) == (media_type, len(data))
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert document.claim_id is None and document.uploaded_by == "web:abc"

    [blob_file] = stored_files(settings)
    on_disk = blob_file.read_bytes()
    assert on_disk != data and data not in on_disk and SECRET_TEXT not in on_disk
    assert blob_file.relative_to(settings.document_dir.resolve()).as_posix() == document.storage_key

    session.expunge_all()
    row, content = read_document(session, store, settings, document.id)
    assert row.id == document.id and content == data


def test_rotation_keeps_documents_written_with_the_old_key_readable(
    session: Session, store: LocalDirectoryStore, settings: Settings
) -> None:
    old_key, new_key = random_key(), random_key()
    before = settings.model_copy(update={"document_keys": SecretStr(f"k2025:{old_key}")})
    old_doc = store_document(session, store, before, MEDICAL_PDF, "web:abc", None)
    assert old_doc.key_id == "k2025"

    after = settings.model_copy(
        update={"document_keys": SecretStr(f"k2026:{new_key},k2025:{old_key}")}
    )
    new_doc = store_document(session, store, after, PNG, "web:abc", None)
    assert new_doc.key_id == "k2026"
    assert read_document(session, store, after, old_doc.id)[1] == MEDICAL_PDF
    assert read_document(session, store, after, new_doc.id)[1] == PNG


def test_forged_type_stores_nothing(
    session: Session, store: LocalDirectoryStore, settings: Settings
) -> None:
    with pytest.raises(ApiError) as excinfo:
        store_document(session, store, settings, b"just text, named .jpg", "web:abc", "x.jpg")
    assert refused(excinfo) == (422, "unsupported_type")
    assert document_count(session) == 0 and stored_files(settings) == []


def test_oversize_stores_nothing_and_the_limit_itself_is_allowed(
    session: Session, store: LocalDirectoryStore, settings: Settings
) -> None:
    small = settings.model_copy(update={"max_document_bytes": len(PNG) + 10})
    with pytest.raises(ApiError) as excinfo:
        store_document(session, store, small, PNG + bytes(11), "web:abc", None)
    assert refused(excinfo) == (413, "too_large")
    assert excinfo.value.extra == {"max_bytes": len(PNG) + 10}
    assert document_count(session) == 0 and stored_files(settings) == []

    store_document(session, store, small, PNG + bytes(10), "web:abc", None)
    assert document_count(session) == 1


@pytest.mark.parametrize(
    "name",
    [
        "../../../../etc/passwd",
        "..\\..\\windows\\system32\\evil.jpg",
        "/var/lib/postgresql/data/pg_hba.conf",
        "photo\x00.jpg\r\nX-Injected: 1",
        "..",
    ],
)
def test_given_names_never_become_paths(
    session: Session, store: LocalDirectoryStore, settings: Settings, tmp_path: Path, name: str
) -> None:
    document = store_document(session, store, settings, JPEG, "web:abc", name)
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}", document.storage_key)
    [blob_file] = stored_files(settings)
    assert blob_file == settings.document_dir.resolve() / document.storage_key
    everything = [p.name for p in tmp_path.rglob("*")]
    assert not {"passwd", "evil.jpg", "pg_hba.conf", "photo"} & set(everything)
    label = document.original_name
    assert label is None or ("/" not in label and "\\" not in label and label.isprintable())


def test_display_name_keeps_a_readable_label_only() -> None:
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\张伟\\发票.jpg") == "发票.jpg"
    assert display_name("a\r\nb\x00.pdf") == "ab.pdf"
    assert display_name("..") is None and display_name("") is None and display_name(None) is None
    assert len(display_name("x" * 500) or "") == 200


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[:-1] + bytes([b[-1] ^ 1]), id="one-bit-flipped"),
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b"", id="emptied"),
    ],
)
def test_tampered_blob_is_a_clear_error_not_garbage(
    session: Session,
    store: LocalDirectoryStore,
    settings: Settings,
    damage: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = store_document(session, store, settings, MEDICAL_PDF, "web:abc", None)
    path = settings.document_dir / document.storage_key
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(ApiError) as excinfo:
        read_document(session, store, settings, document.id)
    assert refused(excinfo) == (500, "document_corrupt")
    assert document.id in caplog.text


def test_a_blob_moved_onto_another_document_is_refused(
    session: Session, store: LocalDirectoryStore, settings: Settings
) -> None:
    alice = store_document(session, store, settings, MEDICAL_PDF, "web:alice", None)
    bob = store_document(session, store, settings, PNG, "web:bob", None)
    shutil.copyfile(
        settings.document_dir / alice.storage_key, settings.document_dir / bob.storage_key
    )
    with pytest.raises(ApiError) as excinfo:
        read_document(session, store, settings, bob.id)
    assert refused(excinfo) == (500, "document_corrupt")


def test_missing_blob_or_wrong_hash_is_refused(
    session: Session, store: LocalDirectoryStore, settings: Settings
) -> None:
    gone = store_document(session, store, settings, PNG, "web:abc", None)
    store.delete(gone.storage_key)
    edited = store_document(session, store, settings, JPEG, "web:abc", None)
    edited.sha256 = hashlib.sha256(b"something else").hexdigest()
    for document in (gone, edited):
        with pytest.raises(ApiError) as excinfo:
            read_document(session, store, settings, document.id)
        assert refused(excinfo) == (500, "document_corrupt")


def test_unknown_document_is_404(
    session: Session, store: LocalDirectoryStore, settings: Settings
) -> None:
    with pytest.raises(ApiError) as excinfo:
        read_document(session, store, settings, "d_" + "0" * 32)
    assert refused(excinfo) == (404, "not_found")


def test_rolled_back_transaction_takes_its_blobs_with_it(
    session: Session, store: LocalDirectoryStore, settings: Settings
) -> None:
    kept = store_document(session, store, settings, PNG, "web:abc", None)
    session.commit()
    store_document(session, store, settings, JPEG, "web:abc", None)
    store_document(session, store, settings, PDF, "web:abc", None)
    assert len(stored_files(settings)) == 3
    # e.g. the claims service refuses the attach that came with this upload
    session.rollback()
    assert [p.name for p in stored_files(settings)] == [kept.storage_key.split("/")[-1]]
    assert session.scalars(select(Document.id)).all() == [kept.id]


def test_rolled_back_savepoint_takes_only_its_own_blobs(
    session: Session, store: LocalDirectoryStore, settings: Settings
) -> None:
    outer = store_document(session, store, settings, PNG, "web:abc", None)
    savepoint = session.begin_nested()
    store_document(session, store, settings, JPEG, "web:abc", None)
    savepoint.rollback()
    assert [p.name for p in stored_files(settings)] == [outer.storage_key.split("/")[-1]]
    session.commit()
    assert len(stored_files(settings)) == 1


def test_failed_insert_deletes_the_blob(tmp_path: Path, settings: Settings) -> None:
    # A database with no tables: the INSERT fails after the blob was written.
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    store = LocalDirectoryStore(settings.document_dir)
    with Session(empty) as broken, pytest.raises(Exception, match="no such table"):
        store_document(broken, store, settings, PNG, "web:abc", None)
    assert stored_files(settings) == []
    empty.dispose()


def test_failed_put_leaves_no_row(session: Session, settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    store = LocalDirectoryStore(tmp_path / "not-a-directory")
    with pytest.raises(ApiError) as excinfo:
        store_document(session, store, settings, PNG, "web:abc", None)
    assert refused(excinfo) == (503, "document_store_unavailable")
    session.flush()
    assert document_count(session) == 0


def test_s3_store_end_to_end(session: Session, s3_settings: Settings) -> None:
    store = make_document_store(s3_settings)
    assert isinstance(store, S3Store)
    document = store_document(session, store, s3_settings, MEDICAL_PDF, "web:abc", "病历.pdf")
    stored = store.get(document.storage_key)
    assert MEDICAL_PDF not in stored and SECRET_TEXT not in stored
    assert read_document(session, store, s3_settings, document.id)[1] == MEDICAL_PDF

    session.rollback()
    listing = store.client.list_objects_v2(Bucket=store.bucket)
    assert listing.get("KeyCount") == 0
