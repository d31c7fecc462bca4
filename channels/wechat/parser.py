"""Parse WeChat callback XML into the internal `InboundMessage`.

xmltodict (expat, entities disabled) is used directly rather than
`wechatpy.parser.parse_message`: wechatpy 1.8 has no `file` message type and would hand
back an `UnknownMessage`, and the raw field names are what the transcript should keep.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict

from channels.messages import InboundKind, InboundMessage

MAX_CALLBACK_BYTES = 256 * 1024

_MEDIA_KINDS: dict[str, InboundKind] = {"image": "image", "voice": "voice", "file": "file"}


class CallbackParseError(ValueError):
    """The body is not a WeChat callback."""


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """Return the fields of the `<xml>` root element."""
    if isinstance(body, bytes) and len(body) > MAX_CALLBACK_BYTES:
        raise CallbackParseError("callback body too large")
    try:
        document = xmltodict.parse(body, disable_entities=True)
    except (ExpatError, ValueError) as exc:
        raise CallbackParseError(f"not XML: {exc}") from None
    root = document.get("xml") if isinstance(document, Mapping) else None
    if not isinstance(root, Mapping):
        raise CallbackParseError("no <xml> root element")
    return dict(root)


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CallbackParseError(f"<{name}> is not a text element")
    return value


def to_inbound(fields: Mapping[str, Any]) -> InboundMessage:
    openid = _text(fields, "FromUserName")
    msg_type = (_text(fields, "MsgType") or "").lower()
    create_time = _text(fields, "CreateTime")
    if not openid or not msg_type or not create_time or not create_time.isdigit():
        raise CallbackParseError("FromUserName, MsgType and CreateTime are required")
    try:
        created_at = datetime.fromtimestamp(int(create_time), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise CallbackParseError("CreateTime is out of range") from None
    conversation_id = f"wechat:{openid}"
    msg_id = _text(fields, "MsgId") or _text(fields, "MsgID")
    common: dict[str, Any] = {
        "conversation_id": conversation_id,
        "channel": "wechat",
        "sender_id": openid,
        "created_at": created_at,
        "raw": dict(fields),
    }

    if msg_type == "event":
        event = (_text(fields, "Event") or "").lower()
        if not event:
            raise CallbackParseError("event without <Event>")
        event_key = _text(fields, "EventKey") or None
        # Events carry no MsgId: WeChat's retries repeat the sender and CreateTime. The
        # menu key joins them so two different clicks within one second both count.
        dedup_key = f"wechat:event:{openid}:{create_time}:{event}"
        if event_key:
            dedup_key += f":{event_key}"
        return InboundMessage(
            kind="event", event=event, event_key=event_key, dedup_key=dedup_key, **common
        )

    dedup_key = (
        f"wechat:msg:{msg_id}" if msg_id else f"wechat:nomsgid:{openid}:{create_time}:{msg_type}"
    )
    common.update(platform_message_id=msg_id, dedup_key=dedup_key)
    if msg_type == "text":
        content = _text(fields, "Content") or ""
        return InboundMessage(kind="text", text=content, original_text=content, **common)
    if msg_type in _MEDIA_KINDS:
        kind = _MEDIA_KINDS[msg_type]
        # A voice note's Recognition is WeChat's speech-to-text; empty when disabled.
        text = (_text(fields, "Recognition") or None) if kind == "voice" else None
        media_format = _text(fields, "Format") if kind == "voice" else _text(fields, "Title")
        return InboundMessage(
            kind=kind,
            text=text,
            original_text=text,
            media_id=_text(fields, "MediaId") or None,
            media_format=media_format,
            **common,
        )
    # video, shortvideo, location, link, ...: passed on so the bot can say what it takes.
    return InboundMessage(kind="unsupported", media_id=_text(fields, "MediaId"), **common)
