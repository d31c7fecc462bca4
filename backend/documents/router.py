from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from backend.core.deps import SessionDep, SettingsDep
from backend.core.security import CallerDep, StaffCaller
from backend.documents import responses
from backend.documents.deps import DocumentStoreDep, read_request_body
from backend.documents.schemas import DocumentOut
from backend.documents.service import read_document, store_document

router = APIRouter(prefix="/api/v1", tags=["documents"])

_RAW_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file's bytes. Content-Type is ignored: the bytes are sniffed.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/documents",
    status_code=201,
    openapi_extra=_RAW_BODY,
    responses={
        413: {"description": "`too_large`: over MAX_DOCUMENT_BYTES"},
        422: {"description": "`unsupported_type`: not JPEG, PNG, HEIC/HEIF, PDF or voice"},
    },
)
async def upload_document(
    request: Request,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    store: DocumentStoreDep,
    x_filename: Annotated[str | None, Header(max_length=1000)] = None,
) -> DocumentOut:
    """Raw bytes from the bot or a channel (a customer may send a photo before
    verifying), or from staff. The document is stored unattached."""
    data = await read_request_body(request, settings)
    original_name = unquote(x_filename) if x_filename else None
    document = await run_in_threadpool(
        store_document, session, store, settings, data, caller.actor_id, original_name
    )
    return DocumentOut(
        document_id=document.id,
        media_type=document.media_type,
        size=document.size,
        sha256=document.sha256,
    )


@router.get(
    "/documents/{document_id}/content",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {}},
)
def document_content(
    document_id: str,
    caller: CallerDep,
    session: SessionDep,
    settings: SettingsDep,
    store: DocumentStoreDep,
) -> Response:
    """The original bytes. Staff see any document; the bot sees its conversation's
    uploads and the documents of its bound policyholder's claims; anything else is 404."""
    document, content = read_document(session, store, settings, document_id, caller=caller)
    if isinstance(caller, StaffCaller):
        responses.record_staff_view(session, caller.username, caller.role, document)
    return responses.inline(document, content)
