"""Re-encrypting documents with the active key, so an old key can leave DOCUMENT_KEYS.

Rotation itself needs no job: put the new key first and every old document stays
readable. This moves the old ones over, one document per transaction, crash-safe:

1. decrypt the old blob and check it against the document's SHA-256;
2. encrypt with the active key and write it under a *new* storage key;
3. point the row at the new blob and commit;
4. only then delete the old blob.

A crash before 3 leaves the old blob in use and an unreferenced new one (removed by
`sweep-blobs`); after 3, the old one at worst (same). A document that cannot be
decrypted or fails its checksum is reported and left exactly as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.core.db import transaction
from backend.core.settings import Settings
from backend.documents.crypto import DecryptionError, KeyRing
from backend.documents.service import delete_quietly
from backend.documents.storage import BlobNotFound, DocumentStore, new_storage_key
from backend.models import Document

log = logging.getLogger(__name__)


@dataclass
class RotationReport:
    to_do: int = 0
    reencrypted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (document id, why)


def reencrypt_documents(
    factory: sessionmaker[Session],
    store: DocumentStore,
    settings: Settings,
    *,
    progress: Callable[[RotationReport], None] | None = None,
    progress_every: int = 100,
) -> RotationReport:
    """Re-encrypt every document not under the active key; see the module docstring."""
    ring = KeyRing.from_settings(settings)
    report = RotationReport()
    with factory() as session:
        report.to_do = (
            session.scalar(
                select(func.count()).select_from(Document).where(Document.key_id != ring.active_kid)
            )
            or 0
        )
    skipped: set[str] = set()
    while True:
        new_key: str | None = None
        try:
            with transaction(factory) as session:
                document = _next_document(session, ring.active_kid, skipped)
                if document is None:
                    break
                document_id, old_key = document.id, document.storage_key
                try:
                    new_key = _rewrite(store, ring, document)
                except _CannotRotate as exc:
                    skipped.add(document_id)
                    report.failed.append((document_id, str(exc)))
                    log.error("document %s not re-encrypted: %s", document_id, exc)
                    continue
                document.storage_key = new_key
                document.key_id = ring.active_kid
        except BaseException:
            if new_key is not None:  # never committed: the new blob is not used
                delete_quietly(store, new_key)
            raise
        # Committed: the old blob is no longer referenced.
        if not delete_quietly(store, old_key):
            log.warning("old blob of %s not deleted; sweep-blobs will remove it", document_id)
        report.reencrypted += 1
        if progress and report.reencrypted % progress_every == 0:
            progress(report)
    if progress:
        progress(report)
    return report


class _CannotRotate(Exception):
    pass


def _next_document(session: Session, active_kid: str, skipped: set[str]) -> Document | None:
    query = (
        select(Document)
        .where(Document.key_id != active_kid)
        .order_by(Document.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # two runs at once take different documents
    )
    if skipped:
        query = query.where(Document.id.not_in(skipped))
    return session.scalars(query).first()


def _rewrite(store: DocumentStore, ring: KeyRing, document: Document) -> str:
    try:
        blob = store.get(document.storage_key)
    except BlobNotFound:
        raise _CannotRotate("its blob is missing from the store") from None
    try:
        plaintext = ring.decrypt(document.id, blob)
    except DecryptionError as exc:
        raise _CannotRotate(str(exc)) from None
    if not hmac.compare_digest(hashlib.sha256(plaintext).hexdigest(), document.sha256):
        raise _CannotRotate("the decrypted bytes do not match its SHA-256")
    _, new_blob = ring.encrypt(document.id, plaintext)
    new_key = new_storage_key()
    store.put(new_key, new_blob)
    return new_key
