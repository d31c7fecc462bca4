"""AES-256-GCM encryption at rest with a key ring.

The ring comes from `DOCUMENT_KEYS` ("kid:base64key,kid:base64key"). The first key
encrypts; every key decrypts, so putting a new key first rotates without making old
documents unreadable. A blob is self-describing:

    b"CDv1" | len(kid) (1 byte) | kid (ASCII) | nonce (12 bytes) | ciphertext+tag

The associated data binds the format, the key id and the document id, so a blob
copied onto another document's storage key (or with its key id edited) fails to
decrypt instead of serving someone else's file.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.core.settings import Settings

MAGIC = b"CDv1"
NONCE_BYTES = 12
KEY_BYTES = 32
TAG_BYTES = 16
# Fits Document.key_id (String(20)); plain ASCII so it round-trips through the header.
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,20}$")


class KeyRingError(ValueError):
    """The configured key ring cannot be used (raised at start-up)."""


class DecryptionError(Exception):
    """A stored blob is not what we wrote: damaged, swapped, or its key is gone."""


@dataclass(frozen=True)
class KeyRing:
    # repr=False: a key ring must never show up in a log line or a traceback.
    keys: dict[str, bytes] = field(repr=False)
    active_kid: str

    @classmethod
    def parse(cls, value: str) -> KeyRing:
        keys: dict[str, bytes] = {}
        active: str | None = None
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if not entries:
            raise KeyRingError("DOCUMENT_KEYS is empty; expected 'kid:base64key[,kid:base64key]'")
        for position, entry in enumerate(entries, start=1):
            kid, sep, encoded = entry.partition(":")
            kid = kid.strip()
            if not sep:
                raise KeyRingError(
                    f"DOCUMENT_KEYS entry {position} has no ':'; expected 'kid:base64key'"
                )
            if not _KID.match(kid):
                raise KeyRingError(
                    f"DOCUMENT_KEYS entry {position}: key id must be 1-20 characters "
                    "of A-Z a-z 0-9 _ . -"
                )
            if kid in keys:
                raise KeyRingError(f"DOCUMENT_KEYS: key id {kid!r} appears twice")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                # The message names the key id only: the bad value may be a real key.
                raise KeyRingError(f"DOCUMENT_KEYS: key {kid!r} is not valid base64") from None
            if len(key) != KEY_BYTES:
                raise KeyRingError(
                    f"DOCUMENT_KEYS: key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )
            keys[kid] = key
            active = active or kid
        assert active is not None
        return cls(keys, active)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        if settings.document_keys is None:
            raise KeyRingError("DOCUMENT_KEYS is not set")
        return cls.parse(settings.document_keys.get_secret_value())

    def encrypt(self, document_id: str, plaintext: bytes) -> tuple[str, bytes]:
        """Returns (key id used, blob)."""
        kid = self.active_kid
        nonce = os.urandom(NONCE_BYTES)
        header = MAGIC + bytes([len(kid)]) + kid.encode("ascii")
        ciphertext = AESGCM(self.keys[kid]).encrypt(
            nonce, plaintext, _associated_data(kid, document_id)
        )
        return kid, header + nonce + ciphertext

    def decrypt(self, document_id: str, blob: bytes) -> bytes:
        kid, nonce, ciphertext = _split(blob)
        key = self.keys.get(kid)
        if key is None:
            raise DecryptionError(
                f"document {document_id} was encrypted with key {kid!r}, "
                "which is no longer in DOCUMENT_KEYS"
            )
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, _associated_data(kid, document_id))
        except InvalidTag:
            raise DecryptionError(
                f"document {document_id} failed its integrity check "
                "(damaged, or not this document's blob)"
            ) from None


def blob_key_id(blob: bytes) -> str:
    """The key id a blob names in its header (for re-encryption jobs and checks)."""
    return _split(blob)[0]


def _associated_data(kid: str, document_id: str) -> bytes:
    return b"|".join((MAGIC, kid.encode("ascii"), document_id.encode("utf-8")))


def _split(blob: bytes) -> tuple[str, bytes, bytes]:
    if len(blob) < len(MAGIC) + 2 or not blob.startswith(MAGIC):
        raise DecryptionError("stored blob is not an encrypted document (bad header)")
    kid_len = blob[len(MAGIC)]
    start = len(MAGIC) + 1
    kid_bytes = blob[start : start + kid_len]
    body = blob[start + kid_len :]
    if len(kid_bytes) != kid_len or len(body) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("stored blob is truncated")
    try:
        kid = kid_bytes.decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("stored blob has a malformed key id") from None
    return kid, body[:NONCE_BYTES], body[NONCE_BYTES:]
