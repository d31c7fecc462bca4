"""The one internal message shape every channel turns its platform messages into.

Inbound: what a person sent (text, a photo, a voice note, a file, or a platform event).
Outbound: what the bot or an agent says back (text with optional buttons, media refs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

Channel = Literal["wechat", "sms", "web"]
InboundKind = Literal["text", "image", "voice", "file", "event", "unsupported"]
DeliveryStatus = Literal["sent", "queued", "failed"]
DeliveryRoute = Literal[
    "wechat_passive", "wechat_customer_service", "wechat_template", "sms", "web"
]


@dataclass(frozen=True)
class Attachment:
    """Platform media that was downloaded at once and stored through the gateway."""

    document_id: str
    filename: str
    content_type: str
    size: int
    media_id: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    conversation_id: str  # "wechat:<openid>", "sms:<E.164>" or "web:<id>"
    channel: Channel
    kind: InboundKind
    sender_id: str  # openid or E.164 phone number
    # What the bot should receive. After a numbered-button reply this is the button's
    # payload; `original_text` keeps what the person typed (for the transcript).
    text: str | None = None
    original_text: str | None = None
    media_id: str | None = None
    media_format: str | None = None  # voice codec ("amr", "speex") or file name hint
    event: str | None = None  # lower case: "subscribe", "unsubscribe", "click", ...
    event_key: str | None = None  # menu key for "click" (e.g. "REPORT_CLAIM")
    platform_message_id: str | None = None  # WeChat MsgId, Twilio MessageSid
    # Stable across the platform's retries: MsgId, or sender+CreateTime+event for events.
    dedup_key: str = ""
    created_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()
    # Set when the message carried media that could not be fetched or stored.
    media_error: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def button_payload(self) -> str | None:
        """The payload chosen by a numbered reply, or None when the text was free text."""
        if self.original_text is not None and self.original_text != self.text:
            return self.text
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, to keep an accepted message until it is answered; `raw` (the
        platform's whole form, personal data included) is left out."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "raw"}
        values["created_at"] = self.created_at.isoformat() if self.created_at else None
        values["attachments"] = [asdict(a) for a in self.attachments]
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> InboundMessage:
        known = {f.name for f in fields(cls)} - {"raw"}
        kept = {name: value for name, value in values.items() if name in known}
        if kept.get("created_at"):
            kept["created_at"] = datetime.fromisoformat(kept["created_at"])
        kept["attachments"] = tuple(Attachment(**a) for a in kept.get("attachments") or ())
        return cls(**kept)


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class MediaRef:
    """Media the bot wants to show. WeChat needs a media id; a URL is sent as a link."""

    url: str | None = None
    wechat_media_id: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    text: str | None = None
    buttons: tuple[Button, ...] = ()
    image: MediaRef | None = None
    document: MediaRef | None = None
    # Free-form data passed through to `record_outbound` (e.g. the outbox row id).
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_rasa(cls, message: Mapping[str, Any]) -> OutboundMessage:
        """Build from one message of Rasa's REST channel answer."""
        buttons = tuple(
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
            for b in message.get("buttons") or ()
            if isinstance(b, Mapping)
        )
        image = message.get("image")
        attachment = message.get("attachment")
        document = None
        if isinstance(attachment, str):
            document = MediaRef(url=attachment)
        elif isinstance(attachment, Mapping) and attachment.get("url"):
            document = MediaRef(url=str(attachment["url"]), title=attachment.get("title"))
        custom = message.get("custom")
        return cls(
            text=message.get("text"),
            buttons=buttons,
            image=MediaRef(url=str(image)) if image else None,
            document=document,
            metadata={"custom": custom} if custom else {},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
            "image": _media_to_dict(self.image),
            "document": _media_to_dict(self.document),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutboundMessage:
        return cls(
            text=data.get("text"),
            buttons=tuple(Button(b["title"], b["payload"]) for b in data.get("buttons") or ()),
            image=_media_from_dict(data.get("image")),
            document=_media_from_dict(data.get("document")),
            metadata=data.get("metadata") or {},
        )


def _media_to_dict(media: MediaRef | None) -> dict[str, Any] | None:
    if media is None:
        return None
    return {"url": media.url, "wechat_media_id": media.wechat_media_id, "title": media.title}


def _media_from_dict(data: Mapping[str, Any] | None) -> MediaRef | None:
    if not data:
        return None
    return MediaRef(
        url=data.get("url"), wechat_media_id=data.get("wechat_media_id"), title=data.get("title")
    )


def outbound_list_to_dicts(messages: Sequence[OutboundMessage]) -> list[dict[str, Any]]:
    return [m.to_dict() for m in messages]


@dataclass(frozen=True)
class HistoryLine:
    """One line of a conversation as the person saw it. `sender`: "customer", "bot",
    "agent" or "system" (a notice)."""

    sender: str
    text: str
    at: datetime
