"""What every channel's outbound adapter promises, and the text cutting they share.

Generic: this module never imports a platform folder. Each platform implements
`ChannelAdapter` in `channels/<platform>/outbound.py`; the app's composition root puts
them into `ChannelRuntime.adapters`, and the app's one outbound service
(`backend/conversations/outbound.py`) picks the adapter and the route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from channels.messages import DeliveryRoute, DeliveryStatus, OutboundMessage

# Why a send failed, as the outbound service must react to it:
# transient   - try again later (5xx, timeout, rate limit: 45009, 20429, 30003)
# window      - WeChat's 48-hour customer-service window is closed or its quota used
#               (45015, 45047): a template message may still go out
# unreachable - the person does not follow the account (43004) / no such number
# opted_out   - unsubscribed or STOP (21610): nothing more may be sent there
# permanent   - refused for good (bad template id, bad number, not configured)
FailureKind = Literal["transient", "window", "unreachable", "opted_out", "permanent"]


@dataclass(frozen=True)
class DeliveryOutcome:
    message: OutboundMessage
    route: DeliveryRoute
    status: DeliveryStatus
    platform_message_id: str | None = None
    error_code: str | None = None
    failure: FailureKind | None = None


@runtime_checkable
class ChannelAdapter(Protocol):
    """Sends a conversation's messages over one platform (free text: replies, agents,
    notices inside the customer-service window)."""

    channel: str  # the conversation id prefix: "wechat", "sms", "web"

    @property
    def configured(self) -> bool: ...

    async def send(
        self, address: str, messages: Sequence[OutboundMessage]
    ) -> list[DeliveryOutcome]: ...


@runtime_checkable
class TemplateAdapter(Protocol):
    """A platform that can also send pre-approved template messages (WeChat)."""

    async def send_template(
        self,
        address: str,
        template_id: str,
        fields: Mapping[str, str],
        *,
        message: OutboundMessage,
        client_msg_id: str,
    ) -> DeliveryOutcome: ...


def not_configured(
    route: DeliveryRoute, messages: Sequence[OutboundMessage]
) -> list[DeliveryOutcome]:
    return [
        DeliveryOutcome(m, route, "failed", error_code="not_configured", failure="permanent")
        for m in messages
    ]


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Cut `text` into pieces of at most `limit` (characters, or whatever `measure`
    counts), at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while measure(line) > limit:  # one line longer than a message: cut by characters
            cut = _longest_prefix(line, limit, measure)
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        pieces.append(current)
    return pieces


def _longest_prefix(line: str, limit: int, measure: Callable[[str], int]) -> int:
    """How many characters of `line` fit in `limit` (at least one, so cutting ends)."""
    low, high = 1, len(line)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(line[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass
class WireSend:
    """One platform API call of a turn."""

    kind: str  # "text" or "image"
    value: str
    messages: set[int]  # indexes of the turn's messages this send carries (part of)


def last_carrier(sends: Sequence[WireSend]) -> dict[int, int]:
    """For each message of the turn, the position of the last send carrying a part of
    it: the message counts as sent when that send went through."""
    last: dict[int, int] = {}
    for position, send in enumerate(sends):
        for index in send.messages:
            last[index] = position
    return last


def media_lines(message: OutboundMessage, *, wechat_images: bool) -> list[str]:
    """Media the platform cannot show inline, as "title：url" lines."""
    lines = []
    if (
        message.image
        and message.image.url
        and not (wechat_images and message.image.wechat_media_id)
    ):
        lines.append(f"{message.image.title or '图片'}：{message.image.url}")
    if message.document and message.document.url:
        lines.append(f"{message.document.title or '文件'}：{message.document.url}")
    return lines


class SendFailed(Exception):
    """What a platform's `send_one` raises: the platform's code and its kind."""

    def __init__(self, code: str, kind: FailureKind) -> None:
        super().__init__(code)
        self.code = code
        self.kind = kind


async def send_in_order(
    messages: Sequence[OutboundMessage],
    sends: Sequence[WireSend],
    route: DeliveryRoute,
    status: DeliveryStatus,
    send_one: Callable[[WireSend], Awaitable[str | None]],
) -> list[DeliveryOutcome]:
    """Send the wire parts one by one and stop at the first failure (later parts would
    arrive out of order, or not at all). Each message's outcome is that of the last
    part carrying it; `send_one` returns the platform's message id."""
    last_send = last_carrier(sends)
    ids: list[str | None] = []
    failure: SendFailed | None = None
    for send in sends:
        try:
            ids.append(await send_one(send))
        except SendFailed as exc:
            failure = exc
            break
    return [
        DeliveryOutcome(messages[index], route, status, platform_message_id=ids[position])
        if position < len(ids)
        else DeliveryOutcome(
            messages[index],
            route,
            "failed",
            error_code=failure.code if failure else None,
            failure=failure.kind if failure else None,
        )
        for index, position in sorted(last_send.items())
    ]
