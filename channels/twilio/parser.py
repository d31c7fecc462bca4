"""Turn Twilio's inbound-SMS webhook form into an `InboundMessage`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from channels.messages import InboundMessage


class SmsParseError(ValueError):
    pass


# Twilio's default opt-out words (the whole message, any case), and the Chinese ones.
STOP_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "TD", "退订"}
)


def to_inbound(form: Mapping[str, str], *, now: datetime | None = None) -> InboundMessage:
    sender = (form.get("From") or "").strip()
    message_sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sender or not message_sid:
        raise SmsParseError("From and MessageSid are required")
    body = form.get("Body") or ""
    common: dict[str, Any] = {
        "conversation_id": f"sms:{sender}",
        "channel": "sms",
        "sender_id": sender,
        "platform_message_id": message_sid,
        "dedup_key": f"sms:{message_sid}",
        "created_at": now or datetime.now(tz=UTC),
        "raw": dict(form),
    }
    # With Advanced Opt-Out Twilio has already answered STOP/START itself and tells us
    # which it was; the person's word is kept as text for the transcript.
    opt_out_type = (form.get("OptOutType") or "").upper()
    if not opt_out_type and body.strip().upper() in STOP_KEYWORDS:
        # Without Advanced Opt-Out Twilio still blocks the number after these words
        # (and answers them itself); 退订/TD is how people say it on Chinese SMS.
        opt_out_type = "STOP"
    if opt_out_type in ("STOP", "START"):
        event = "unsubscribe" if opt_out_type == "STOP" else "subscribe"
        return InboundMessage(kind="event", event=event, text=body, original_text=body, **common)
    media_error = None
    if (form.get("NumMedia") or "0") not in ("", "0"):
        media_error = "MMS attachments are not accepted over SMS"
    return InboundMessage(
        kind="text", text=body, original_text=body, media_error=media_error, **common
    )
