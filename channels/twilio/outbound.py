"""Twilio's outbound adapter: a conversation's messages as few SMS as possible.

channel = TwilioChannel(settings, sender=SmsSender(...))
outcomes = await channel.send("+8613800000000", messages)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx

from channels.buttons import render_turn
from channels.delivery import (
    DeliveryOutcome,
    FailureKind,
    SendFailed,
    WireSend,
    last_carrier,
    media_lines,
    not_configured,
    send_in_order,
    split_text,
)
from channels.messages import DeliveryRoute, OutboundMessage
from channels.redact import mask_phone
from channels.settings import ChannelSettings
from channels.twilio.sender import SmsError, SmsOptedOutError, SmsSender, SmsTransportError

logger = logging.getLogger(__name__)

SMS_MAX_CHARS = 1600  # Twilio refuses longer bodies
# Too many requests; handset unreachable for now: worth another try later.
TRANSIENT_CODES = frozenset({20429, 30003})


def sms_bodies(messages: Sequence[OutboundMessage]) -> list[WireSend]:
    """The SMS for a turn: as few as possible (each one costs at least a segment), each
    within Twilio's 1600 characters; a longer text is cut at line ends, never dropped."""
    sends: list[WireSend] = []
    for index, (message, text) in enumerate(zip(messages, render_turn(messages), strict=True)):
        lines = ([text] if text else []) + media_lines(message, wechat_images=False)
        if not lines:
            continue
        value = "\n".join(lines)
        last = sends[-1] if sends else None
        if last and len(joined := f"{last.value}\n{value}") <= SMS_MAX_CHARS:
            last.value = joined
            last.messages.add(index)
        else:
            pieces = split_text(value, SMS_MAX_CHARS, len)
            sends.extend(WireSend("text", piece, {index}) for piece in pieces)
    return sends


def _failure(exc: SmsError) -> tuple[str, FailureKind]:
    if isinstance(exc, SmsOptedOutError):
        return "21610", "opted_out"
    if isinstance(exc, SmsTransportError):
        return "transport", "transient"
    if exc.code in TRANSIENT_CODES:
        return str(exc.code), "transient"
    return (str(exc.code) if exc.code else "rejected"), "permanent"


@dataclass
class TwilioChannel:
    settings: ChannelSettings
    sender: SmsSender | None = None
    channel: str = "sms"

    @property
    def configured(self) -> bool:
        return self.sender is not None

    async def send(
        self, address: str, messages: Sequence[OutboundMessage]
    ) -> list[DeliveryOutcome]:
        route: DeliveryRoute = "sms"
        sends = sms_bodies(messages)
        if not sends:
            return []
        sender = self.sender
        if sender is None:
            logger.warning(
                "sms: Twilio not configured; message to %s not sent", mask_phone(address)
            )
            return not_configured(route, [messages[i] for i in sorted(last_carrier(sends))])

        async def send_one(send: WireSend) -> str:
            try:
                return (await sender.send(address, send.value)).sid
            except SmsError as exc:
                raise SendFailed(*_failure(exc)) from exc

        return await send_in_order(messages, sends, route, "queued", send_one)


def open_twilio_channel(settings: ChannelSettings, stack: AsyncExitStack) -> TwilioChannel:
    """Build the SMS channel from its settings; its HTTP client closes with `stack`."""
    if not (settings.twilio_enabled and settings.twilio_from_number):
        return TwilioChannel(settings)
    assert settings.twilio_account_sid and settings.twilio_auth_token
    http = httpx.AsyncClient(timeout=settings.twilio_http_timeout_seconds)
    stack.push_async_callback(http.aclose)
    sender = SmsSender(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        from_number=settings.twilio_from_number,
        api_base_url=settings.twilio_api_base_url,
        status_callback_url=settings.twilio_status_callback_url,
        http=http,
        timeout_seconds=settings.twilio_http_timeout_seconds,
    )
    return TwilioChannel(settings, sender=sender)
