"""A local web chat that behaves like the WeChat conversation, for trying the product
without credentials: conversation `web:<random>`, numbered buttons, attachments, and
later pushes over server-sent events."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from backend.core.deps import StateDep
from backend.core.errors import ApiError
from backend.core.state import Services
from backend.documents.deps import read_request_body
from channels.messages import Attachment, InboundMessage

router = APIRouter(tags=["web chat"])
PAGE = (Path(__file__).parent / "static" / "chat.html").read_text(encoding="utf-8")
CONVERSATION_PATTERN = r"^web:[A-Za-z0-9_-]{8,64}$"


async def _turn(state: Services, message: InboundMessage) -> None:
    """One turn, answered over the event stream through the one outbound path."""
    answers = await state.gateway.handle_inbound(message)
    await state.gateway.deliver(message.conversation_id, answers)


class SendIn(BaseModel):
    conversation_id: str = Field(pattern=CONVERSATION_PATTERN)
    text: str = Field(min_length=1, max_length=1000)
    payload: str | None = Field(default=None, max_length=300)


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
def chat_page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-store"})


@router.post("/chat/api/messages", status_code=202)
async def send(body: SendIn, state: StateDep) -> dict[str, str]:
    """Take the message and answer over the event stream (like a platform would)."""
    message = InboundMessage(
        conversation_id=body.conversation_id,
        channel="web",
        kind="text",
        sender_id=body.conversation_id.removeprefix("web:"),
        text=body.payload or body.text,
        original_text=body.text,
        platform_message_id=secrets.token_hex(8),
        dedup_key=secrets.token_hex(8),
        created_at=datetime.now(UTC),
    )
    state.channels.spawn(_turn(state, message))
    return {"status": "accepted"}


@router.post("/chat/api/attachments", status_code=202)
async def attach(
    request: Request,
    state: StateDep,
    conversation_id: Annotated[str, Query(pattern=CONVERSATION_PATTERN)],
    x_filename: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, str]:
    gateway = state.gateway
    data = await read_request_body(request, state.settings)
    if not data:
        raise ApiError(422, "validation_error", "空文件 / empty file")
    filename = x_filename or "upload"
    document_id = await gateway.store_media(
        conversation_id, data, filename=filename, content_type="application/octet-stream"
    )
    message = InboundMessage(
        conversation_id=conversation_id,
        channel="web",
        kind="file",
        sender_id=conversation_id.removeprefix("web:"),
        platform_message_id=secrets.token_hex(8),
        dedup_key=secrets.token_hex(8),
        attachments=(Attachment(document_id, filename, "application/octet-stream", len(data)),),
        created_at=datetime.now(UTC),
    )
    state.channels.spawn(_turn(state, message))
    return {"status": "accepted", "document_id": document_id}


@router.get("/chat/api/events")
async def events(
    state: StateDep, conversation_id: Annotated[str, Query(pattern=CONVERSATION_PATTERN)]
) -> StreamingResponse:
    hub = state.webchat
    address = conversation_id.removeprefix("web:")
    queue = hub.subscribe(address)

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while True:
                try:
                    payload = await asyncio.wait_for(queue.get(), timeout=15)
                    yield f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            hub.unsubscribe(address, queue)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
