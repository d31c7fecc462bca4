"""The web chat: a channel like WeChat and SMS, for customers on the insurer's site and
for trying the product without platform credentials.

The visitor is a conversation `web:<random>` named by a signed cookie (session.py).
Messages and attachments go to the ConversationGateway like the other channels'; the
answers, later notices and agents' replies come back through the web chat adapter
(outbound.py) over server-sent events; after a reload the page shows the conversation
again from the transcript.

A message is made durable before the visitor hears 202 (`gateway.accept`: its transcript
row and an unanswered turn), then answered in the background and ended with
`gateway.answered`. Should this replica die in between, the message is in the history
after a reload, and a notifications worker answers it (`answer_web`, through
`ChannelRuntime.answerers`); the answer reaches the page as any other.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from channels.deps import GatewayDep, RuntimeDep
from channels.gateway import ConversationGateway
from channels.messages import Attachment, InboundMessage
from channels.runtime import ChannelRuntime
from channels.webchat import session
from channels.webchat.outbound import WebChatChannel

router = APIRouter(tags=["web chat"])
PAGE = (Path(__file__).parent / "static" / "chat.html").read_text(encoding="utf-8")
HISTORY_LINES = 100
CookieDep = Annotated[str | None, Cookie(alias=session.COOKIE)]


def _conversation(runtime: ChannelRuntime, cookie: str | None) -> str:
    conversation_id = session.read(runtime.settings, cookie, time.time())
    if conversation_id is None:
        raise HTTPException(401, "会话已过期，请刷新页面 / the chat session expired: reload")
    return conversation_id


def _adapter(runtime: ChannelRuntime) -> WebChatChannel:
    adapter = runtime.adapters.get("web")
    if not isinstance(adapter, WebChatChannel):
        raise HTTPException(404)
    return adapter


async def answer_web(
    runtime: ChannelRuntime, gateway: ConversationGateway, message: InboundMessage
) -> None:
    """One turn on an accepted message; the answer goes out on the outbound path (the
    event stream). Its buttons are remembered, so the visitor's "1" or a button's title
    picks one, as on WeChat and SMS."""
    answers = await gateway.handle_inbound(message)
    await runtime.buttons.remember(message.conversation_id, answers)
    await gateway.deliver(message.conversation_id, answers)
    await gateway.answered(message)


async def _take(
    runtime: ChannelRuntime, gateway: ConversationGateway, message: InboundMessage
) -> None:
    """Keep the message (durable before the 202), then answer it in the background."""
    await gateway.accept(message)  # a fresh id each time: never a duplicate
    runtime.spawn(answer_web(runtime, gateway, message))


def _inbound(conversation_id: str, **fields: Any) -> InboundMessage:
    message_id = secrets.token_hex(8)
    return InboundMessage(
        conversation_id=conversation_id,
        channel="web",
        sender_id=conversation_id.removeprefix("web:"),
        platform_message_id=message_id,
        dedup_key=message_id,
        created_at=datetime.now(UTC),
        **fields,
    )


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
def chat_page(runtime: RuntimeDep, cookie: CookieDep = None) -> HTMLResponse:
    """The page; a visitor without a valid cookie becomes a new conversation."""
    page = HTMLResponse(PAGE, headers={"Cache-Control": "no-store"})
    settings = runtime.settings
    if settings.webchat_cookie_key is None:
        raise HTTPException(404)
    if session.read(settings, cookie, time.time()) is None:
        value = session.sign(settings, session.new_conversation_id(), time.time())
        page.set_cookie(session.COOKIE, value, **session.cookie_attributes(settings))  # type: ignore[arg-type]
    return page


class SendIn(BaseModel):
    # What the visitor typed, or the number of the button they clicked.
    text: str = Field(min_length=1, max_length=1000)


@router.post("/chat/api/messages", status_code=202)
async def send(
    body: SendIn, runtime: RuntimeDep, gateway: GatewayDep, cookie: CookieDep = None
) -> dict[str, str]:
    """Take the message and answer over the event stream (as a platform would)."""
    conversation_id = _conversation(runtime, cookie)
    # Only a button the bot offered can send a payload; anything else is free text.
    button = await runtime.buttons.resolve(conversation_id, body.text)
    message = _inbound(
        conversation_id,
        kind="text",
        text=button.payload if button else body.text,
        original_text=body.text,
    )
    await _take(runtime, gateway, message)
    return {"status": "accepted"}


@router.post("/chat/api/attachments", status_code=202)
async def attach(
    request: Request,
    runtime: RuntimeDep,
    gateway: GatewayDep,
    cookie: CookieDep = None,
    x_filename: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, str]:
    conversation_id = _conversation(runtime, cookie)
    data = await _read_body(request, runtime.settings.max_document_bytes)
    filename = x_filename or "upload"
    document_id = await gateway.store_media(
        conversation_id, data, filename=filename, content_type="application/octet-stream"
    )
    message = _inbound(
        conversation_id,
        kind="file",
        attachments=(Attachment(document_id, filename, "application/octet-stream", len(data)),),
    )
    await _take(runtime, gateway, message)
    return {"status": "accepted", "document_id": document_id}


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw upload, refused as soon as it passes the limit (never held whole)."""
    too_large = HTTPException(413, f"文件太大，最大 {limit // (1024 * 1024)} MB / file too large")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise too_large
    if not received:
        raise HTTPException(422, "空文件 / empty file")
    return bytes(received)


@router.get("/chat/api/history")
async def history(
    runtime: RuntimeDep, gateway: GatewayDep, cookie: CookieDep = None
) -> dict[str, Any]:
    """The conversation so far, and the buttons of the last question still open."""
    conversation_id = _conversation(runtime, cookie)
    lines = await gateway.history(conversation_id, limit=HISTORY_LINES)
    buttons = await runtime.buttons.recall(conversation_id)
    return {
        "lines": [{**asdict(line), "at": line.at.isoformat()} for line in lines],
        "buttons": [{"title": b.title, "payload": b.payload} for b in buttons],
    }


@router.get("/chat/api/events")
async def events(runtime: RuntimeDep, cookie: CookieDep = None) -> StreamingResponse:
    conversation_id = _conversation(runtime, cookie)
    hub = _adapter(runtime)
    address = conversation_id.removeprefix("web:")

    async def stream() -> AsyncIterator[str]:
        # Listening before the first line: a page that saw it misses nothing said after.
        async with hub.listen(address) as queue:
            yield ": connected\n\n"
            while True:
                try:
                    payload = await asyncio.wait_for(queue.get(), timeout=15)
                    yield f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
                except TimeoutError:
                    yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
