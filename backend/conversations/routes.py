"""Which way a proactive notice goes: pure rules, no I/O (tested exhaustively).

One notice, one channel: the channel the customer last wrote on when it can take the
notice (WeChat customer-service message inside the 48-hour window, the web chat, SMS),
else their WeChat binding by template message, else SMS to the phone on file. A
customer's chosen notice channel goes first. Opted-out conversations are never used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

WECHAT_WINDOW = timedelta(hours=48)

RouteKind = Literal["wechat_customer_service", "wechat_template", "sms", "web"]


@dataclass(frozen=True)
class Reachable:
    """A conversation bound to the customer, as the rules need to see it."""

    conversation_id: str
    opted_out: bool
    last_customer_message_at: datetime | None


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    conversation_id: str

    @property
    def channel(self) -> str:
        return self.conversation_id.split(":", 1)[0]


def window_open(conversation: Reachable, now: datetime) -> bool:
    """WeChat's customer-service window: 48 hours from the customer's own last message
    or menu click (platform events such as TEMPLATESENDJOBFINISH do not open it)."""
    last = conversation.last_customer_message_at
    return last is not None and now - last < WECHAT_WINDOW


def plan_notice_routes(
    conversations: Sequence[Reachable],
    *,
    phone: str | None,
    preferred: str,
    now: datetime,
) -> list[Route]:
    """The routes to try, in order; the outbound service moves to the next one when a
    route refuses (window closed, not following, opted out, not configured)."""
    usable = [c for c in conversations if not c.opted_out]
    sms_conversation = f"sms:{phone}" if phone else None
    sms_blocked = any(c.opted_out and c.conversation_id == sms_conversation for c in conversations)

    def for_conversation(conversation: Reachable) -> list[Route]:
        channel = conversation.conversation_id.split(":", 1)[0]
        if channel == "wechat":
            if window_open(conversation, now):
                return [Route("wechat_customer_service", conversation.conversation_id)]
            return [Route("wechat_template", conversation.conversation_id)]
        if channel == "sms":
            return [Route("sms", conversation.conversation_id)]
        if channel == "web":
            return [Route("web", conversation.conversation_id)]
        return []

    def latest_first(c: Reachable) -> tuple[bool, datetime]:
        last = c.last_customer_message_at
        return (last is not None, last or datetime.min.replace(tzinfo=now.tzinfo))

    ordered = sorted(usable, key=latest_first, reverse=True)
    routes: list[Route] = []
    if preferred == "sms" and sms_conversation and not sms_blocked:
        routes.append(Route("sms", sms_conversation))
    elif preferred == "wechat":
        for conversation in ordered:
            if conversation.conversation_id.startswith("wechat:"):
                routes += for_conversation(conversation)
    if ordered and ordered[0].last_customer_message_at is not None:
        routes += for_conversation(ordered[0])
    # Then the WeChat binding by template (also after a customer-service refusal).
    for conversation in ordered:
        if conversation.conversation_id.startswith("wechat:"):
            routes.append(Route("wechat_template", conversation.conversation_id))
    if sms_conversation and not sms_blocked:
        routes.append(Route("sms", sms_conversation))
    unique: list[Route] = []
    for route in routes:
        if route not in unique:
            unique.append(route)
    return unique


@dataclass(frozen=True)
class QuietHours:
    """ "HH:MM-HH:MM" in local time; the window may run over midnight. Empty = none.
    "00:00-24:00" = the whole day."""

    start: time | None
    end: time | None

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        text = text.strip()
        if not text:
            return cls(None, None)
        try:
            first, second = (part.strip() for part in text.split("-"))
            start, end = _clock(first), _clock(second)
        except ValueError as exc:
            raise ValueError(f"expected HH:MM-HH:MM, got {text!r}") from exc
        return cls(start, end)

    def contains(self, local: datetime) -> bool:
        if self.start is None or self.end is None:
            return False
        now = local.time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def end_after(self, local: datetime) -> datetime:
        """When the quiet hours that `local` falls in end (local time)."""
        assert self.end is not None
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end


def _clock(text: str) -> time:
    if text == "24:00":
        return time(23, 59, 59, 999999)
    hours, minutes = text.split(":")
    if len(hours) != 2 or len(minutes) != 2:
        raise ValueError(text)
    return time(int(hours), int(minutes))
