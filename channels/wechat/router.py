"""The WeChat Official Account callback: GET (URL verification) and POST (messages).

Order of work for a POST: signature and replay window first (403, nothing else
happens), then decryption in safe mode, then parsing, then the turn. The turn (media
download, gateway, rendering) runs in the background; the request waits for it only
up to WECHAT_REPLY_BUDGET_SECONDS and answers "success" after that (see channels.turns).

A replica may die mid-turn, and WeChat retries a message only while it has no answer.
The transaction that stores the message also records it as an accepted turn
(`gateway.handle_inbound_durably`, when the bot is to answer it), ended by
`gateway.answered` in the transaction that records the passive reply, or after the push.
Died before storing it: WeChat's retry takes the turn over (channels.turns). Died after:
a notifications worker answers it after INBOUND_LEASE_SECONDS (`answer_wechat`), over the
customer-service API, or records the passive reply it finds already sent (in Redis).
Events carry no message id and are not kept as turns; template reports and other events
the bot does not hear need no answer and leave none behind.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse

from channels.buttons import ButtonMemory
from channels.deps import GatewayDep, RuntimeDep
from channels.gateway import ConversationGateway
from channels.messages import Attachment, InboundMessage, OutboundMessage
from channels.redact import mask_id
from channels.runtime import ChannelRuntime
from channels.turns import TurnResult
from channels.wechat.client import WeChatApiError
from channels.wechat.crypto import DecryptError
from channels.wechat.outbound import (
    WeChatChannel,
    wechat_parts,
    wechat_passive_allowed,
    wechat_passive_text,
)
from channels.wechat.parser import (
    MAX_CALLBACK_BYTES,
    CallbackParseError,
    parse_xml,
    to_inbound,
)
from channels.wechat.replies import NO_REPLY, render_text_reply
from channels.wechat.signature import SignatureError, verify_signature

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/channels/wechat", tags=["channels"])

_MEDIA_KINDS = ("image", "voice", "file")


def wechat_channel(runtime: ChannelRuntime) -> WeChatChannel:
    channel = runtime.adapters.get("wechat")
    if not isinstance(channel, WeChatChannel):
        raise HTTPException(status_code=404)
    return channel


def _token(runtime: ChannelRuntime) -> str:
    settings = runtime.settings
    if not settings.wechat_enabled or settings.wechat_token is None:
        raise HTTPException(status_code=404)
    return settings.wechat_token.get_secret_value()


def _forbidden(reason: str) -> HTTPException:
    logger.warning("wechat: callback refused: %s", reason)
    return HTTPException(status_code=403, detail="forbidden")


@router.get("")
async def verify_callback_url(request: Request, runtime: RuntimeDep) -> Response:
    """WeChat checks the server URL once: echo `echostr` when the signature is ours."""
    token = _token(runtime)
    params = request.query_params
    try:
        verify_signature(
            token=token,
            signature=params.get("signature"),
            timestamp=params.get("timestamp"),
            nonce=params.get("nonce"),
            max_age_seconds=runtime.settings.wechat_signature_max_age_seconds,
        )
    except SignatureError as exc:
        raise _forbidden(str(exc)) from None
    return PlainTextResponse(params.get("echostr", ""))


async def _read_verified_fields(request: Request, runtime: ChannelRuntime) -> dict[str, Any]:
    token = _token(runtime)
    params = request.query_params
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_CALLBACK_BYTES:
        raise HTTPException(status_code=413)
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise HTTPException(status_code=413)
    raw_body = body
    max_age = runtime.settings.wechat_signature_max_age_seconds
    crypto = wechat_channel(runtime).crypto
    try:
        if crypto is None:
            verify_signature(
                token=token,
                signature=params.get("signature"),
                timestamp=params.get("timestamp"),
                nonce=params.get("nonce"),
                max_age_seconds=max_age,
            )
        else:
            # Safe mode: only encrypted callbacks are accepted; the signature covers
            # the Encrypt field, so nothing can be tampered with.
            if params.get("encrypt_type") != "aes":
                raise SignatureError("plain callback while safe mode is configured")
            try:
                encrypted = parse_xml(body).get("Encrypt")
            except CallbackParseError:
                raise SignatureError("unreadable safe-mode envelope") from None
            if not isinstance(encrypted, str) or not encrypted:
                raise SignatureError("safe-mode envelope without Encrypt")
            verify_signature(
                token=token,
                signature=params.get("msg_signature"),
                timestamp=params.get("timestamp"),
                nonce=params.get("nonce"),
                extra=(encrypted,),
                max_age_seconds=max_age,
            )
            body = crypto.decrypt(encrypted).encode()
    except (SignatureError, DecryptError) as exc:
        raise _forbidden(str(exc)) from None
    await _refuse_replay_with_another_body(runtime, params, raw_body, max_age)
    try:
        return parse_xml(body)
    except CallbackParseError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


async def _refuse_replay_with_another_body(
    runtime: ChannelRuntime, params: Any, body: bytes, max_age_seconds: int
) -> None:
    """In plain mode WeChat's signature covers token, timestamp and nonce, not the body:
    anyone who saw one signed query string (a log, a proxy) could post any body with it
    for as long as the timestamp is fresh. So each signed (timestamp, nonce, signature)
    is bound to the body it first came with, for the whole replay window; WeChat's own
    retries repeat the same body and pass, anything else is refused."""
    signature = params.get("msg_signature") or params.get("signature") or ""
    key = f"wechat:sig:{params.get('timestamp')}:{params.get('nonce')}:{signature.lower()}"
    digest = hashlib.sha256(body).hexdigest()
    # The timestamp may be up to max_age in the past or the future: keep the mark twice
    # as long, so it outlives every moment the signature is still accepted.
    ttl = 2 * max_age_seconds + 5
    if await runtime.store.set_if_absent(key, digest, ttl):
        return
    if await runtime.store.get(key) != digest:
        raise _forbidden("signed query string reused with another body")


@router.post("")
async def receive_callback(request: Request, runtime: RuntimeDep, gateway: GatewayDep) -> Response:
    fields = await _read_verified_fields(request, runtime)
    try:
        message = to_inbound(fields)
    except CallbackParseError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    account = str(fields.get("ToUserName") or "")

    async def run_turn() -> TurnResult | None:
        return await _run_turn(runtime, gateway, message)

    async def push(result: TurnResult) -> None:
        await gateway.deliver(result.conversation_id, result.messages)
        if result.messages:
            await gateway.answered(message)

    async def on_passive(result: TurnResult) -> None:
        # The transcript row is written after the answer went out: a database write
        # (SQLite queues writers) never stands between a finished turn and WeChat's
        # 5-second limit. The runtime drains such work at shutdown.
        runtime.spawn(_record_passive(gateway, message, result))

    result = await runtime.turns.answer(
        message.dedup_key,
        run_turn=run_turn,
        budget_seconds=runtime.settings.wechat_reply_budget_seconds,
        push=push,
        on_passive=on_passive,
        # A message with an id is stored once (a second run stops there); an event has
        # none, so a second run of its turn could answer it twice.
        can_take_over=message.platform_message_id is not None,
    )
    content = wechat_passive_text(result.messages) if result is not None else ""
    if not content:
        return PlainTextResponse(NO_REPLY)
    xml = render_text_reply(to_user=message.sender_id, from_user=account, content=content)
    crypto = wechat_channel(runtime).crypto
    if crypto is not None:
        xml = crypto.encrypt_reply(
            xml,
            nonce=request.query_params.get("nonce", ""),
            timestamp=str(int(time.time())),
        )
    return Response(content=xml, media_type="application/xml")


async def _resolve_button(buttons: ButtonMemory, message: InboundMessage) -> InboundMessage:
    button = await buttons.resolve(message.conversation_id, message.text)
    if button is None:
        return message
    return replace(message, text=button.payload)


async def _fetch_media(
    runtime: ChannelRuntime, gateway: ConversationGateway, message: InboundMessage
) -> InboundMessage:
    """Download the person's media at once (ids expire) and store it as a document."""
    if not message.media_id:
        return replace(message, media_error="no MediaId in the message")
    api = wechat_channel(runtime).api
    if api is None:
        return replace(message, media_error="WeChat API not configured")
    try:
        media = await api.download_media(message.media_id)
    except WeChatApiError as exc:
        logger.warning("wechat: media download for %s failed: %s", mask_id(message.sender_id), exc)
        return replace(message, media_error=f"download failed ({exc.errcode or 'transport'})")
    filename = media.filename
    if message.kind == "file" and message.media_format:
        filename = message.media_format.replace("/", "_").replace("\\", "_")[:120]
    try:
        document_id = await gateway.store_media(
            message.conversation_id, media.data, filename=filename, content_type=media.content_type
        )
    except Exception:
        logger.exception("wechat: storing media from %s failed", mask_id(message.sender_id))
        return replace(message, media_error="the file could not be stored")
    attachment = Attachment(
        document_id=document_id,
        filename=filename,
        content_type=media.content_type,
        size=len(media.data),
        media_id=message.media_id,
    )
    return replace(message, attachments=(attachment,))


async def _run_turn(
    runtime: ChannelRuntime, gateway: ConversationGateway, message: InboundMessage
) -> TurnResult | None:
    unsubscribed = message.kind == "event" and message.event == "unsubscribe"
    if message.kind == "event" and message.event == TEMPLATE_JOB_FINISHED:
        await _record_template_result(gateway, message)
        return TurnResult(
            conversation_id=message.conversation_id, messages=(), passive_allowed=True
        )
    replies: list[OutboundMessage]
    try:
        if message.kind == "text":
            message = await _resolve_button(runtime.buttons, message)
        elif message.kind in _MEDIA_KINDS:
            message = await _fetch_media(runtime, gateway, message)
        if unsubscribed:
            await gateway.mark_opted_out(message.conversation_id, reason="wechat_unsubscribe")
        answers = await gateway.handle_inbound_durably(message)
        if answers is None:
            return None  # another delivery's turn (see channels.turns)
        replies = list(answers)
    except Exception:
        logger.exception("wechat: gateway failed on %s", message.dedup_key)
        fallback = runtime.settings.fallback_reply_text
        replies = [OutboundMessage(text=fallback)] if fallback else []
    if unsubscribed:
        replies = []  # nobody to tell: the person has just left
    await runtime.buttons.remember(message.conversation_id, replies)
    return TurnResult(
        conversation_id=message.conversation_id,
        messages=tuple(replies),
        passive_allowed=wechat_passive_allowed(replies),
    )


TEMPLATE_JOB_FINISHED = "templatesendjobfinish"


async def _record_template_result(gateway: ConversationGateway, message: InboundMessage) -> None:
    """WeChat's report on a template message sent earlier: "success", "failed:user
    block" or "failed: system failed". Not a message from the person: it opens no
    customer-service window and the bot is not asked."""
    msgid = str(message.raw.get("MsgID") or message.raw.get("MsgId") or "")
    status_text = str(message.raw.get("Status") or "")
    if not msgid or not status_text:
        logger.warning("wechat: TEMPLATESENDJOBFINISH without MsgID or Status")
        return
    if status_text == "success":
        await gateway.record_delivery_status(msgid, "delivered", None)
    else:
        reason = status_text.split(":", 1)[-1].strip().replace(" ", "_")[:20] or "failed"
        await gateway.record_delivery_status(msgid, "failed", reason)


async def _record_passive(
    gateway: ConversationGateway, inbound: InboundMessage, result: TurnResult
) -> None:
    """Record the passive reply and end the message's turn, in one transaction."""
    if not result.messages:
        return  # no turn was kept, or the gateway ended it (nothing to say)
    parts = wechat_parts(result.messages)
    said = [m for m, items in zip(result.messages, parts, strict=True) if items]
    try:
        await gateway.answered(inbound, passive_reply=said)
    except Exception:
        # The reply itself has gone out; a worker records it later (`answer_wechat`).
        logger.exception("wechat: recording a passive reply failed")


async def answer_wechat(
    runtime: ChannelRuntime, gateway: ConversationGateway, message: InboundMessage
) -> None:
    """Answer a stored WeChat message whose replica died mid-turn (a notifications
    worker calls this once the turn's lease has run out): the bot's turn on the message
    as stored (button resolved, media kept), pushed over the customer-service API.

    Had the replica sent a passive reply and died before recording it, that reply (still
    in Redis) is recorded instead: the person is not answered twice."""
    sent = await runtime.turns.passive_reply(message.dedup_key)
    if sent is not None:
        parts = wechat_parts(sent.messages)
        said = [m for m, items in zip(sent.messages, parts, strict=True) if items]
        await gateway.answered(message, passive_reply=said)
        return
    replies: list[OutboundMessage]
    try:
        replies = list(await gateway.handle_inbound(message))
    except Exception:
        logger.exception("wechat: gateway failed on %s", message.dedup_key)
        fallback = runtime.settings.fallback_reply_text
        replies = [OutboundMessage(text=fallback)] if fallback else []
    await runtime.buttons.remember(message.conversation_id, replies)
    await gateway.deliver(message.conversation_id, replies)
    await gateway.answered(message)
