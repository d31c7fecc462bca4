"""HTTP-side helpers shared by the documents router and the claims router (multipart
upload): the store made in the lifespan, and body readers that stop at the limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, UploadFile

from backend.core.deps import StateDep
from backend.core.settings import Settings
from backend.documents.service import too_large
from backend.documents.storage import DocumentStore

_CHUNK = 64 * 1024


def get_document_store(state: StateDep) -> DocumentStore:
    return state.document_store


DocumentStoreDep = Annotated[DocumentStore, Depends(get_document_store)]


async def read_request_body(request: Request, settings: Settings) -> bytes:
    """The raw body, refused with 413 `too_large` as soon as it passes the limit, so a
    huge or endless upload is never held in memory."""
    limit = settings.max_document_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(settings)
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise too_large(settings)
    return bytes(received)


async def read_upload_file(upload: UploadFile, settings: Settings) -> bytes:
    """A multipart file part, read up to the limit (one byte more tells us it is over)."""
    limit = settings.max_document_bytes
    if upload.size is not None and upload.size > limit:
        raise too_large(settings)
    received = bytearray()
    while len(received) <= limit:
        chunk = await upload.read(min(_CHUNK, limit + 1 - len(received)))
        if not chunk:
            return bytes(received)
        received += chunk
    raise too_large(settings)
