"""Storing and reading documents. Services flush, never commit: the request's
transaction decides, and a rolled-back transaction takes its new blobs with it."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from backend.core.errors import ApiError
from backend.core.security import BotCaller, Caller
from backend.core.settings import Settings
from backend.documents.crypto import DecryptionError, KeyRing
from backend.documents.sniff import require_supported
from backend.documents.storage import (
    BlobNotFound,
    DocumentStore,
    make_document_store,
    new_storage_key,
)
from backend.models import Claim, Document, Policy

log = logging.getLogger(__name__)

_PENDING_BLOBS = "documents.pending_blobs"
_NAME_MAX = 200  # Document.original_name


def open_document_store(settings: Settings) -> DocumentStore:
    """For the app's lifespan: refuses to start on a malformed key ring (KeyRingError),
    then makes the configured store."""
    KeyRing.from_settings(settings)
    return make_document_store(settings)


def too_large(settings: Settings) -> ApiError:
    limit_mb = settings.max_document_bytes / (1024 * 1024)
    return ApiError(
        413,
        "too_large",
        f"文件过大，单个文件不超过 {limit_mb:g} MB / file too large: the limit is {limit_mb:g} MB",
        max_bytes=settings.max_document_bytes,
    )


def display_name(original_name: str | None) -> str | None:
    """The name a sender gave, kept as a label only: last path segment, printable
    characters, bounded. It is never used to build a path or a storage key."""
    if not original_name:
        return None
    name = re.split(r"[\\/]", original_name)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in ("", ".", ".."):
        return None
    return name[:_NAME_MAX]


def store_document(
    session: Session,
    store: DocumentStore,
    settings: Settings,
    data: bytes,
    uploaded_by: str,
    original_name: str | None,
) -> Document:
    """Check, encrypt and store one document; returns its (flushed, unattached) row.

    Refusals: 413 `too_large`, 422 `unsupported_type`, 503 `document_store_unavailable`.
    """
    if len(data) > settings.max_document_bytes:
        raise too_large(settings)
    media_type = require_supported(data)
    digest = hashlib.sha256(data).hexdigest()
    document_id = "d_" + secrets.token_hex(16)
    key_id, blob = KeyRing.from_settings(settings).encrypt(document_id, data)
    storage_key = new_storage_key()

    try:
        store.put(storage_key, blob)
    except Exception as exc:
        log.exception("document store %s refused a put for %s", store.kind, document_id)
        # The write may have landed before the error (a timeout): leave nothing behind.
        delete_quietly(store, storage_key)
        raise ApiError(
            503,
            "document_store_unavailable",
            "文件暂时无法保存，请稍后重试 / the document store is unavailable; try again shortly",
        ) from exc

    document = Document(
        id=document_id,
        media_type=media_type,
        size=len(data),
        sha256=digest,
        storage_key=storage_key,
        key_id=key_id,
        original_name=display_name(original_name),
        uploaded_by=uploaded_by,
    )
    try:
        session.add(document)
        session.flush()
    except BaseException:
        delete_quietly(store, storage_key)
        raise
    _delete_on_rollback(session, store, storage_key)
    log.info("stored document %s (%s, %d bytes)", document_id, media_type, len(data))
    return document


def read_document(
    session: Session,
    store: DocumentStore,
    settings: Settings,
    document_id: str,
    *,
    caller: Caller | None = None,
) -> tuple[Document, bytes]:
    """The row and the original bytes, decrypted and checked against the SHA-256.

    With `caller`, a document that caller may not see is reported as 404, exactly
    like one that does not exist. A damaged or swapped blob is a 500
    `document_corrupt`, never garbage bytes.
    """
    document = session.get(Document, document_id)
    if document is None or (caller is not None and not can_read(session, caller, document)):
        raise ApiError(404, "not_found", "文件不存在 / document not found")
    return document, document_content(store, settings, document)


def can_read(session: Session, caller: Caller, document: Document) -> bool:
    """Staff see every document. The bot sees what its conversation uploaded, and
    the documents of claims belonging to the policyholder the conversation is bound to."""
    if not isinstance(caller, BotCaller):
        return True
    if document.uploaded_by == caller.conversation_id:
        return True
    if caller.policyholder_id is None or document.claim_id is None:
        return False
    owner = session.scalar(
        select(Policy.policyholder_id)
        .join(Claim, Claim.policy_id == Policy.id)
        .where(Claim.id == document.claim_id)
    )
    return owner == caller.policyholder_id


def document_content(store: DocumentStore, settings: Settings, document: Document) -> bytes:
    try:
        blob = store.get(document.storage_key)
    except BlobNotFound:
        log.error(
            "document %s: blob %s is missing from the store", document.id, document.storage_key
        )
        raise _corrupt() from None
    except Exception as exc:
        log.exception("document store %s failed reading %s", store.kind, document.id)
        raise ApiError(
            503,
            "document_store_unavailable",
            "文件暂时无法读取，请稍后重试 / the document store is unavailable; try again shortly",
        ) from exc
    try:
        plaintext = KeyRing.from_settings(settings).decrypt(document.id, blob)
    except DecryptionError as exc:
        log.error("document %s cannot be decrypted: %s", document.id, exc)
        raise _corrupt() from None
    digest = hashlib.sha256(plaintext).hexdigest()
    if not hmac.compare_digest(digest, document.sha256):
        log.error("document %s: SHA-256 of the decrypted bytes does not match", document.id)
        raise _corrupt()
    return plaintext


def _corrupt() -> ApiError:
    return ApiError(
        500,
        "document_corrupt",
        "文件校验失败，已记录并通知工作人员 / the stored document failed its integrity "
        "check; this has been logged for staff",
    )


def delete_quietly(store: DocumentStore, storage_key: str) -> bool:
    """Delete a blob no row uses; a failure is logged (sweep-blobs removes it later)."""
    try:
        store.delete(storage_key)
    except Exception:
        log.exception("could not delete orphan blob %s from %s store", storage_key, store.kind)
        return False
    return True


# A blob is written before its row; if the transaction that holds the row rolls back
# (a later refusal in the same request, a failed commit), the blob goes too.


def _delete_on_rollback(session: Session, store: DocumentStore, storage_key: str) -> None:
    pending: list[tuple[SessionTransaction, DocumentStore, str]] | None = session.info.get(
        _PENDING_BLOBS
    )
    if pending is None:
        pending = session.info[_PENDING_BLOBS] = []
        event.listen(session, "after_soft_rollback", _after_rollback)
        event.listen(session, "after_commit", _after_commit)
    transaction = session.get_nested_transaction() or session.get_transaction()
    assert transaction is not None  # the flush above began one
    pending.append((transaction, store, storage_key))


def _after_commit(session: Session) -> None:
    session.info[_PENDING_BLOBS] = []


def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[tuple[SessionTransaction, Any, str]] = session.info.get(_PENDING_BLOBS, [])
    kept = []
    for transaction, store, storage_key in pending:
        if _within(transaction, previous_transaction):
            delete_quietly(store, storage_key)
        else:
            kept.append((transaction, store, storage_key))
    session.info[_PENDING_BLOBS] = kept


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
