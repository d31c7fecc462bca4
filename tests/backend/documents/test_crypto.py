from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from backend.core.settings import Settings
from backend.documents.crypto import DecryptionError, KeyRing, KeyRingError, blob_key_id
from backend.main import create_app
from tests.backend.documents.conftest import SECRET_TEXT, random_key

PLAINTEXT = b"%PDF-1.4\n" + SECRET_TEXT * 10


def test_blob_is_not_the_plaintext_and_decrypts_back() -> None:
    ring = KeyRing.parse(f"k1:{random_key()}")
    kid, blob = ring.encrypt("d_one", PLAINTEXT)
    assert kid == "k1"
    assert SECRET_TEXT not in blob
    assert ring.decrypt("d_one", blob) == PLAINTEXT
    # A fresh nonce each time: the same file never gives the same blob.
    assert ring.encrypt("d_one", PLAINTEXT)[1] != blob


def test_a_blob_only_opens_as_its_own_document() -> None:
    ring = KeyRing.parse(f"k1:{random_key()}")
    _, blob = ring.encrypt("d_alice", PLAINTEXT)
    with pytest.raises(DecryptionError, match="d_bob failed its integrity check"):
        ring.decrypt("d_bob", blob)


def test_rotation_new_key_first_keeps_old_documents_readable() -> None:
    old_key, new_key = random_key(), random_key()
    _, old_blob = KeyRing.parse(f"2025a:{old_key}").encrypt("d_old", PLAINTEXT)

    rotated = KeyRing.parse(f"2026a:{new_key},2025a:{old_key}")
    assert rotated.decrypt("d_old", old_blob) == PLAINTEXT
    kid, new_blob = rotated.encrypt("d_new", PLAINTEXT)
    assert kid == "2026a" and blob_key_id(new_blob) == "2026a"

    retired = KeyRing.parse(f"2026a:{new_key}")
    with pytest.raises(DecryptionError, match="key '2025a', which is no longer in DOCUMENT_KEYS"):
        retired.decrypt("d_old", old_blob)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[:-1] + bytes([b[-1] ^ 1]), id="flipped-tag-bit"),
        pytest.param(lambda b: b[:30] + bytes([b[30] ^ 0x80]) + b[31:], id="flipped-body-bit"),
        pytest.param(lambda b: b[:20], id="truncated"),
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b"\x89PNG" + b[4:], id="bad-magic"),
        pytest.param(lambda b: b.replace(b"k1", b"k2", 1), id="relabelled-key-id"),
    ],
)
def test_damaged_blob_is_refused_not_returned(damage: object) -> None:
    ring = KeyRing.parse(f"k1:{random_key()},k2:{random_key()}")
    _, blob = ring.encrypt("d_x", PLAINTEXT)
    with pytest.raises(DecryptionError):
        ring.decrypt("d_x", damage(blob))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        ("k1", "has no ':'"),
        ("k1:not base64!!", "not valid base64"),
        ("k1:" + base64.b64encode(os.urandom(16)).decode(), "is 16 bytes; AES-256 needs 32"),
        ("k1:" + base64.b64encode(os.urandom(33)).decode(), "is 33 bytes"),
        (":" + base64.b64encode(os.urandom(32)).decode(), "key id must be"),
        ("bad id:" + base64.b64encode(os.urandom(32)).decode(), "key id must be"),
    ],
)
def test_malformed_key_ring_says_what_is_wrong(value: str, problem: str) -> None:
    with pytest.raises(KeyRingError, match=problem) as raised:
        KeyRing.parse(value)
    secret_part = value.partition(":")[2]
    if len(secret_part) > 4:
        assert secret_part not in str(raised.value)


def test_duplicate_key_id_is_refused() -> None:
    with pytest.raises(KeyRingError, match="'k1' appears twice"):
        KeyRing.parse(f"k1:{random_key()},k1:{random_key()}")


def test_keys_never_show_in_repr() -> None:
    key = random_key()
    ring = KeyRing.parse(f"k1:{key}")
    assert key not in repr(ring)
    assert repr(base64.b64decode(key)) not in repr(ring)


def test_app_refuses_to_start_with_a_malformed_key_ring(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'claims.db'}",
        var_dir=tmp_path / "var",
        document_dir=tmp_path / "documents",
        document_keys=SecretStr("k1:c2hvcnQ="),  # "short": 5 bytes
    )
    with (
        pytest.raises(KeyRingError, match="'k1' is 5 bytes"),
        TestClient(create_app(settings)),
    ):
        pass
