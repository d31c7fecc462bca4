"""Twilio webhooks: inbound SMS and message status callbacks.

Both are signature-checked over the public URL first (403, nothing else happens).
The SMS webhook answers empty TwiML at once and answers the person through the REST
API from a background task: Twilio gives a webhook 15 s, a bot turn may need longer.
Twilio does not send a message again once it has its 200, so the message is made
durable first (`gateway.accept`, which also drops a duplicate); should this replica die
before answering it, a notifications worker does (`answer_sms` through
`ChannelRuntime.answerers`).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from fastapi import APIRouter, HTTPException, Request, Response

from channels.deps import GatewayDep, RuntimeDep
from channels.gateway import ConversationGateway
from channels.messages import InboundMessage, OutboundMessage
from channels.redact import mask_phone
from channels.runtime import ChannelRuntime
from channels.twilio.parser import SmsParseError, to_inbound
from channels.twilio.signature import (
    SIGNATURE_HEADER,
    TwilioSignatureError,
    public_request_url,
    verify_twilio_signature,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/channels/twilio", tags=["channels"])

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def _verified_form(request: Request, runtime: ChannelRuntime) -> dict[str, str]:
    settings = runtime.settings
    if not settings.twilio_enabled or settings.twilio_auth_token is None:
        raise HTTPException(status_code=404)
    assert settings.public_base_url
    # Twilio posts application/x-www-form-urlencoded, never multipart: a file part
    # would reach the signature validator as an UploadFile (TypeError, a 500 for anyone).
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(status_code=415, detail="form-urlencoded body expected")
    form = await request.form()
    if any(not isinstance(value, str) for _, value in form.multi_items()):
        raise HTTPException(status_code=415, detail="form-urlencoded body expected")
    url = public_request_url(settings.public_base_url, request.url.path, request.url.query)
    try:
        verify_twilio_signature(
            auth_token=settings.twilio_auth_token.get_secret_value(),
            url=url,
            params=form,
            signature=request.headers.get(SIGNATURE_HEADER),
        )
        if form.get("AccountSid") not in (None, settings.twilio_account_sid):
            raise TwilioSignatureError("webhook for another account")
    except TwilioSignatureError as exc:
        logger.warning("twilio: webhook %s refused: %s", request.url.path, exc)
        raise HTTPException(status_code=403, detail="forbidden") from None
    return {key: value for key, value in form.items() if isinstance(value, str)}


@router.post("/sms")
async def receive_sms(request: Request, runtime: RuntimeDep, gateway: GatewayDep) -> Response:
    fields = await _verified_form(request, runtime)
    try:
        message = to_inbound(fields)
    except SmsParseError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    if not await gateway.accept(message):
        logger.info("twilio: %s already received, dropped", message.platform_message_id)
    else:
        runtime.spawn(answer_sms(runtime, gateway, message))
    return Response(content=EMPTY_TWIML, media_type="application/xml")


async def answer_sms(
    runtime: ChannelRuntime, gateway: ConversationGateway, message: InboundMessage
) -> None:
    """Answer an accepted SMS: the bot's turn (or an apology), sent over the REST API."""
    opted_out = message.kind == "event" and message.event == "unsubscribe"
    replies: list[OutboundMessage]
    try:
        if message.kind == "text":
            button = await runtime.buttons.resolve(message.conversation_id, message.text)
            if button is not None:
                message = replace(message, text=button.payload)
        if opted_out:
            await gateway.mark_opted_out(message.conversation_id, reason="sms_stop")
        replies = list(await gateway.handle_inbound(message))
    except Exception:
        logger.exception("twilio: gateway failed on %s", message.dedup_key)
        fallback = runtime.settings.fallback_reply_text
        replies = [OutboundMessage(text=fallback)] if fallback else []
    if opted_out:
        await gateway.answered(message)
        return  # Twilio has confirmed the STOP itself; anything more would get 21610
    await runtime.buttons.remember(message.conversation_id, replies)
    await gateway.deliver(message.conversation_id, replies)
    await gateway.answered(message)


@router.post("/status")
async def receive_status(request: Request, runtime: RuntimeDep, gateway: GatewayDep) -> Response:
    fields = await _verified_form(request, runtime)
    message_sid = fields.get("MessageSid") or fields.get("SmsSid")
    status = fields.get("MessageStatus") or fields.get("SmsStatus")
    if not message_sid or not status:
        raise HTTPException(status_code=400, detail="MessageSid and MessageStatus are required")
    error_code = fields.get("ErrorCode") or None
    await gateway.record_delivery_status(message_sid, status, error_code)
    if error_code == "21610" and fields.get("To"):
        await gateway.mark_opted_out(f"sms:{fields['To']}", reason="sms_21610")
    logger.info(
        "twilio: %s is %s%s to %s",
        message_sid,
        status,
        f" (error {error_code})" if error_code else "",
        mask_phone(fields.get("To")),
    )
    return Response(status_code=204)
