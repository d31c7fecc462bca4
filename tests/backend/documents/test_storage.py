from __future__ import annotations

import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from backend.core.settings import Settings
from backend.documents.storage import (
    BlobNotFound,
    LocalDirectoryStore,
    S3Store,
    make_document_store,
    new_storage_key,
)

BAD_KEYS = [
    "../../etc/passwd",
    "/etc/passwd",
    "ab/cd/../../../outside",
    "ab/cd/" + "0" * 31 + "/",
    "photo.jpg",
    "AB/CD/" + "A" * 32,
    "",
]


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_keys_are_ours_and_unique() -> None:
    keys = {new_storage_key() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}", key)
        assert key.split("/")[2].startswith(key[0:2] + key[3:5])


def test_local_store_round_trip_writes_one_file_under_its_key(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path / "docs")
    key = new_storage_key()
    store.put(key, b"encrypted bytes")
    assert store.get(key) == b"encrypted bytes"
    # Only the file itself: the temporary file was renamed, not left behind.
    assert all_files(tmp_path) == [tmp_path / "docs" / key]
    store.delete(key)
    assert all_files(tmp_path) == []
    with pytest.raises(BlobNotFound):
        store.get(key)
    store.delete(key)  # already gone: no error


def test_local_store_overwrite_is_all_or_nothing(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path)
    key = new_storage_key()
    store.put(key, b"first")
    store.put(key, b"second")
    assert store.get(key) == b"second"
    assert len(all_files(tmp_path)) == 1


@pytest.mark.parametrize("key", BAD_KEYS)
def test_local_store_refuses_any_key_it_did_not_make(tmp_path: Path, key: str) -> None:
    store = LocalDirectoryStore(tmp_path / "docs")
    for operation in (lambda: store.put(key, b"x"), lambda: store.get(key)):
        with pytest.raises(ValueError, match="not a storage key"):
            operation()
    assert all_files(tmp_path) == []


def test_local_store_check(tmp_path: Path) -> None:
    LocalDirectoryStore(tmp_path / "new" / "docs").check()  # creates the directory
    assert (tmp_path / "new" / "docs").is_dir()
    (tmp_path / "a-file").write_text("not a directory")
    broken = LocalDirectoryStore(tmp_path / "a-file")
    with pytest.raises(OSError):
        broken.check()
    with pytest.raises(OSError):
        broken.put(new_storage_key(), b"x")


def test_factory_picks_the_configured_store(tmp_path: Path) -> None:
    local = make_document_store(Settings(var_dir=tmp_path, document_dir=tmp_path / "d"))
    assert isinstance(local, LocalDirectoryStore) and local.kind == "local"
    assert local.root == (tmp_path / "d").resolve()
    s3 = make_document_store(
        Settings(
            var_dir=tmp_path,
            document_store="s3",
            s3_endpoint_url="http://127.0.0.1:9",
            s3_bucket="b",
            s3_access_key_id=SecretStr("id"),
            s3_secret_access_key=SecretStr("secret"),
        )
    )
    assert isinstance(s3, S3Store) and s3.kind == "s3" and s3.bucket == "b"


def test_s3_store_against_an_s3_compatible_server(s3_settings: Settings) -> None:
    store = make_document_store(s3_settings)
    assert isinstance(store, S3Store)
    store.check()
    key = new_storage_key()
    store.put(key, b"\x00encrypted\xff")
    assert store.get(key) == b"\x00encrypted\xff"
    listed = store.client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert [obj["Key"] for obj in listed] == [key]
    store.delete(key)
    with pytest.raises(BlobNotFound):
        store.get(key)
    store.delete(key)  # already gone: no error
    for bad in BAD_KEYS:
        with pytest.raises(ValueError, match="not a storage key"):
            store.put(bad, b"x")
    assert store.client.list_objects_v2(Bucket=store.bucket).get("KeyCount") == 0


def test_s3_check_fails_for_a_missing_bucket(s3_settings: Settings) -> None:
    store = make_document_store(s3_settings.model_copy(update={"s3_bucket": "no-such-bucket"}))
    with pytest.raises(ClientError) as excinfo:
        store.check()
    assert excinfo.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
