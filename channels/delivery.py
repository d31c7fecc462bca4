"""Send bot or agent messages to a conversation over its channel, and record them.

Used by the routes (answers that are not passive replies) and meant for the app's
notification worker and agent console too:

    outcomes = await deliver(runtime, gateway, "wechat:<openid>", messages)

Each message's outcome is recorded through `gateway.record_outbound` and returned, so
the caller can react (e.g. 45015: fall back to a template message or SMS).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from channels.buttons import render_turn
from channels.gateway import ConversationGateway
from channels.messages import DeliveryRoute, DeliveryStatus, OutboundMessage
from channels.redact import mask_id, mask_phone
from channels.runtime import ChannelRuntime
from channels.twilio.sender import SmsError, SmsOptedOutError, SmsTransportError
from channels.wechat.client import WeChatApiError, WeChatTransportError

logger = logging.getLogger(__name__)

SMS_MAX_CHARS = 1600  # Twilio refuses longer bodies
# WeChat's limit for a text reply, in UTF-8 bytes (a Chinese character takes three).
WECHAT_TEXT_MAX_BYTES = 2048


@dataclass(frozen=True)
class DeliveryOutcome:
    message: OutboundMessage
    route: DeliveryRoute
    status: DeliveryStatus
    platform_message_id: str | None = None
    error_code: str | None = None


WirePart = tuple[str, str]  # ("text", content) or ("image", wechat media id)


def _media_lines(message: OutboundMessage, *, wechat_images: bool) -> list[str]:
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


def wechat_parts(messages: Sequence[OutboundMessage]) -> list[list[WirePart]]:
    """What each message becomes on WeChat: its text (buttons numbered across the turn,
    media without a WeChat media id as links), then its image."""
    parts: list[list[WirePart]] = []
    for message, text in zip(messages, render_turn(messages), strict=True):
        lines = ([text] if text else []) + _media_lines(message, wechat_images=True)
        items: list[WirePart] = [("text", "\n".join(lines))] if lines else []
        if message.image and message.image.wechat_media_id:
            items.append(("image", message.image.wechat_media_id))
        parts.append(items)
    return parts


def wechat_passive_allowed(messages: Sequence[OutboundMessage]) -> bool:
    """One passive reply carries the turn when it is all text and fits one message."""
    all_text = all(kind == "text" for items in wechat_parts(messages) for kind, _ in items)
    return all_text and _utf8_len(wechat_passive_text(messages)) <= WECHAT_TEXT_MAX_BYTES


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _split_text(
    text: str, limit: int = WECHAT_TEXT_MAX_BYTES, measure: Callable[[str], int] = _utf8_len
) -> list[str]:
    """Cut `text` into pieces of at most `limit` (bytes, or whatever `measure` counts),
    at line ends where possible."""
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
class _WireSend:
    kind: str  # "text" or "image"
    value: str
    messages: set[int]  # indexes of the turn's messages this send carries (part of)


def _last_carrier(sends: Sequence[_WireSend]) -> dict[int, int]:
    """For each message of the turn, the position of the last send carrying a part of
    it: the message counts as sent when that send went through."""
    last: dict[int, int] = {}
    for position, send in enumerate(sends):
        for index in send.messages:
            last[index] = position
    return last


def wechat_sends(messages: Sequence[OutboundMessage]) -> list[_WireSend]:
    """The customer-service API calls for a turn: neighbouring texts joined into one
    message (WeChat allows only 5 per message the user sent), long texts cut to fit."""
    sends: list[_WireSend] = []
    for index, items in enumerate(wechat_parts(messages)):
        for kind, value in items:
            last = sends[-1] if sends else None
            if kind != "text":
                sends.append(_WireSend(kind, value, {index}))
            elif last and last.kind == "text":
                joined = f"{last.value}\n\n{value}"
                if _utf8_len(joined) <= WECHAT_TEXT_MAX_BYTES:
                    last.value = joined
                    last.messages.add(index)
                else:
                    sends.extend(_WireSend("text", piece, {index}) for piece in _split_text(value))
            else:
                sends.extend(_WireSend("text", piece, {index}) for piece in _split_text(value))
    return sends


def wechat_passive_text(messages: Sequence[OutboundMessage]) -> str:
    """Several text messages of one turn joined into one passive reply."""
    return "\n\n".join(v for items in wechat_parts(messages) for kind, v in items if kind == "text")


def sms_bodies(messages: Sequence[OutboundMessage]) -> list[_WireSend]:
    """The SMS for a turn: as few as possible (each one costs at least a segment), each
    within Twilio's 1600 characters; a longer text is cut at line ends, never dropped."""
    sends: list[_WireSend] = []
    for index, (message, text) in enumerate(zip(messages, render_turn(messages), strict=True)):
        lines = ([text] if text else []) + _media_lines(message, wechat_images=False)
        if not lines:
            continue
        value = "\n".join(lines)
        last = sends[-1] if sends else None
        if last and len(joined := f"{last.value}\n{value}") <= SMS_MAX_CHARS:
            last.value = joined
            last.messages.add(index)
        else:
            pieces = _split_text(value, SMS_MAX_CHARS, len)
            sends.extend(_WireSend("text", piece, {index}) for piece in pieces)
    return sends


async def _push_wechat(
    runtime: ChannelRuntime, openid: str, messages: Sequence[OutboundMessage]
) -> list[DeliveryOutcome]:
    route: DeliveryRoute = "wechat_customer_service"
    api = runtime.wechat_api
    sends = wechat_sends(messages)
    last_send = _last_carrier(sends)
    failure: str | None = None if api is not None else "not_configured"
    failed_at = 0 if api is None else len(sends)
    if api is not None:
        for position, send in enumerate(sends):
            try:
                for attempt in (1, 2):
                    try:
                        if send.kind == "image":
                            await api.send_image(openid, send.value)
                        else:
                            await api.send_text(openid, send.value)
                        break
                    except WeChatTransportError as exc:
                        # Resend only what certainly never left: no duplicate for the user.
                        if exc.request_sent or attempt == 2:
                            raise
                        await asyncio.sleep(0.5)
            except WeChatApiError as exc:
                # Stop at the first failure: sending later messages would break their order.
                failure = str(exc.errcode) if exc.errcode else "transport"
                failed_at = position
                logger.warning("wechat: push to %s failed: %s", mask_id(openid), exc)
                break
    return [
        DeliveryOutcome(messages[index], route, "sent")
        if position < failed_at
        else DeliveryOutcome(messages[index], route, "failed", error_code=failure)
        for index, position in sorted(last_send.items())
    ]


async def _send_sms(
    runtime: ChannelRuntime, number: str, messages: Sequence[OutboundMessage]
) -> list[DeliveryOutcome]:
    route: DeliveryRoute = "sms"
    sends = sms_bodies(messages)
    last_send = _last_carrier(sends)
    if not sends:
        return []
    if runtime.sms is None:
        logger.warning("sms: Twilio not configured; message to %s not sent", mask_phone(number))
        return [
            DeliveryOutcome(messages[i], route, "failed", error_code="not_configured")
            for i in sorted(last_send)
        ]
    sids: list[str] = []
    failure: str | None = None
    for send in sends:
        try:
            receipt = await runtime.sms.send(number, send.value)
        except SmsOptedOutError:
            failure = "21610"
        except SmsTransportError:
            failure = "transport"
        except SmsError as exc:
            failure = str(exc.code) if exc.code else "rejected"
        if failure is not None:
            break  # the rest would arrive out of order, or not at all (21610)
        sids.append(receipt.sid)
    return [
        DeliveryOutcome(messages[index], route, "queued", platform_message_id=sids[position])
        if position < len(sids)
        else DeliveryOutcome(messages[index], route, "failed", error_code=failure)
        for index, position in sorted(last_send.items())
    ]


async def deliver(
    runtime: ChannelRuntime,
    gateway: ConversationGateway,
    conversation_id: str,
    messages: Sequence[OutboundMessage],
    *,
    remember_buttons: bool = True,
) -> list[DeliveryOutcome]:
    """Send `messages` to the conversation's channel; record and return each outcome."""
    channel, _, address = conversation_id.partition(":")
    if remember_buttons:
        await runtime.buttons.remember(conversation_id, messages)
    if channel == "wechat":
        outcomes = await _push_wechat(runtime, address, messages)
    elif channel == "sms":
        outcomes = await _send_sms(runtime, address, messages)
    else:
        raise ValueError(f"no channel adapter for conversation {conversation_id!r}")
    for outcome in outcomes:
        await gateway.record_outbound(
            conversation_id,
            outcome.message,
            route=outcome.route,
            status=outcome.status,
            platform_message_id=outcome.platform_message_id,
            error_code=outcome.error_code,
        )
    if any(o.error_code == "21610" for o in outcomes):
        await gateway.mark_opted_out(conversation_id, reason="sms_21610")
    return outcomes
