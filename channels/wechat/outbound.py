"""WeChat's outbound adapter: customer-service messages (free text, inside the 48-hour
window), template messages (outside it), and the passive-reply rendering.

    channel = WeChatChannel(settings, api=WeChatApiClient(...), crypto=...)
    outcomes = await channel.send(openid, messages)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx

from channels.buttons import render_turn
from channels.delivery import (
    DeliveryOutcome,
    FailureKind,
    SendFailed,
    WireSend,
    media_lines,
    not_configured,
    send_in_order,
    split_text,
    utf8_len,
)
from channels.messages import DeliveryRoute, OutboundMessage
from channels.redact import mask_id
from channels.settings import ChannelSettings
from channels.store import KeyValueStore
from channels.wechat.client import WeChatApiClient, WeChatApiError, WeChatTransportError
from channels.wechat.crypto import SafeModeCrypto

logger = logging.getLogger(__name__)

# WeChat's limit for a text message, in UTF-8 bytes (a Chinese character takes three).
WECHAT_TEXT_MAX_BYTES = 2048
# Template message fields: at most 20 characters each since May 2023, no line breaks.
TEMPLATE_FIELD_MAX_CHARS = 20

_WINDOW = {45015, 45047}
_UNREACHABLE = {43004, 40003}  # not following the account; invalid openid
_TRANSIENT = {-1, 45009}  # system busy; API frequency limit


def failure_kind(error: WeChatApiError) -> FailureKind:
    if isinstance(error, WeChatTransportError):
        return "transient"
    if error.errcode in _WINDOW:
        return "window"
    if error.errcode in _UNREACHABLE:
        return "unreachable"
    if error.errcode in _TRANSIENT:
        return "transient"
    return "permanent"


WirePart = tuple[str, str]  # ("text", content) or ("image", wechat media id)


def wechat_parts(messages: Sequence[OutboundMessage]) -> list[list[WirePart]]:
    """What each message becomes on WeChat: its text (buttons numbered across the turn,
    media without a WeChat media id as links), then its image."""
    parts: list[list[WirePart]] = []
    for message, text in zip(messages, render_turn(messages), strict=True):
        lines = ([text] if text else []) + media_lines(message, wechat_images=True)
        items: list[WirePart] = [("text", "\n".join(lines))] if lines else []
        if message.image and message.image.wechat_media_id:
            items.append(("image", message.image.wechat_media_id))
        parts.append(items)
    return parts


def wechat_passive_allowed(messages: Sequence[OutboundMessage]) -> bool:
    """One passive reply carries the turn when it is all text and fits one message."""
    all_text = all(kind == "text" for items in wechat_parts(messages) for kind, _ in items)
    return all_text and utf8_len(wechat_passive_text(messages)) <= WECHAT_TEXT_MAX_BYTES


def wechat_passive_text(messages: Sequence[OutboundMessage]) -> str:
    """Several text messages of one turn joined into one passive reply."""
    return "\n\n".join(v for items in wechat_parts(messages) for kind, v in items if kind == "text")


def _split(value: str) -> list[str]:
    return split_text(value, WECHAT_TEXT_MAX_BYTES, utf8_len)


def wechat_sends(messages: Sequence[OutboundMessage]) -> list[WireSend]:
    """The customer-service API calls for a turn: neighbouring texts joined into one
    message (WeChat allows only 5 per message the user sent), long texts cut to fit."""
    sends: list[WireSend] = []
    for index, items in enumerate(wechat_parts(messages)):
        for kind, value in items:
            last = sends[-1] if sends else None
            if kind != "text":
                sends.append(WireSend(kind, value, {index}))
            elif last and last.kind == "text":
                joined = f"{last.value}\n\n{value}"
                if utf8_len(joined) <= WECHAT_TEXT_MAX_BYTES:
                    last.value = joined
                    last.messages.add(index)
                else:
                    sends.extend(WireSend("text", piece, {index}) for piece in _split(value))
            else:
                sends.extend(WireSend("text", piece, {index}) for piece in _split(value))
    return sends


def template_value(text: str) -> str:
    """A template field as WeChat takes it: one line, at most 20 characters."""
    flat = " ".join(text.split())
    if len(flat) <= TEMPLATE_FIELD_MAX_CHARS:
        return flat
    return flat[: TEMPLATE_FIELD_MAX_CHARS - 1] + "…"


@dataclass
class WeChatChannel:
    """The WeChat Official Account as the app sees it: callback settings, the API
    client (None without WECHAT_APP_ID/SECRET) and the safe-mode crypto."""

    settings: ChannelSettings
    api: WeChatApiClient | None = None
    crypto: SafeModeCrypto | None = None
    channel: str = "wechat"

    @property
    def configured(self) -> bool:
        return self.api is not None

    async def send(
        self, address: str, messages: Sequence[OutboundMessage]
    ) -> list[DeliveryOutcome]:
        route: DeliveryRoute = "wechat_customer_service"
        if self.api is None:
            return not_configured(route, messages)

        async def send_one(send: WireSend) -> None:
            try:
                await self._send_one(address, send)
            except WeChatApiError as exc:
                logger.warning("wechat: push to %s failed: %s", mask_id(address), exc)
                code = str(exc.errcode) if exc.errcode else "transport"
                raise SendFailed(code, failure_kind(exc)) from exc

        return await send_in_order(messages, wechat_sends(messages), route, "sent", send_one)

    async def _send_one(self, openid: str, send: WireSend) -> None:
        assert self.api is not None
        for attempt in (1, 2):
            try:
                if send.kind == "image":
                    await self.api.send_image(openid, send.value)
                else:
                    await self.api.send_text(openid, send.value)
                return
            except WeChatTransportError as exc:
                # Resend only what certainly never left: no duplicate for the user.
                if exc.request_sent or attempt == 2:
                    raise
                await asyncio.sleep(0.5)

    async def send_template(
        self,
        address: str,
        template_id: str,
        fields: Mapping[str, str],
        *,
        message: OutboundMessage,
        client_msg_id: str,
    ) -> DeliveryOutcome:
        route: DeliveryRoute = "wechat_template"
        if self.api is None:
            return not_configured(route, [message])[0]
        data = {key: template_value(value) for key, value in fields.items()}
        try:
            msgid = await self.api.send_template(
                address, template_id, data, client_msg_id=client_msg_id
            )
        except WeChatApiError as exc:
            logger.warning("wechat: template to %s failed: %s", mask_id(address), exc)
            code = str(exc.errcode) if exc.errcode else "transport"
            return DeliveryOutcome(
                message, route, "failed", error_code=code, failure=failure_kind(exc)
            )
        # Accepted; WeChat reports the outcome later (TEMPLATESENDJOBFINISH).
        return DeliveryOutcome(message, route, "queued", platform_message_id=str(msgid))


async def open_wechat_channel(
    settings: ChannelSettings, store: KeyValueStore, stack: AsyncExitStack
) -> WeChatChannel:
    """Build the WeChat channel from its settings; clients close with `stack`."""
    api = None
    crypto = None
    if settings.wechat_api_enabled:
        assert settings.wechat_app_id and settings.wechat_app_secret
        http = httpx.AsyncClient(timeout=settings.wechat_http_timeout_seconds)
        stack.push_async_callback(http.aclose)
        api = WeChatApiClient(
            app_id=settings.wechat_app_id,
            app_secret=settings.wechat_app_secret,
            base_url=settings.wechat_api_base_url,
            http=http,
            store=store,
        )
    if settings.wechat_enabled and settings.wechat_safe_mode:
        assert settings.wechat_token and settings.wechat_aes_key
        if not settings.wechat_app_id:
            raise ValueError("WECHAT_AES_KEY (safe mode) needs WECHAT_APP_ID")
        crypto = SafeModeCrypto(
            token=settings.wechat_token.get_secret_value(),
            encoding_aes_key=settings.wechat_aes_key.get_secret_value(),
            app_id=settings.wechat_app_id,
        )
    return WeChatChannel(settings, api=api, crypto=crypto)
