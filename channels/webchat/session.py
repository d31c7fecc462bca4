"""Who a web chat visitor is: a conversation id in a signed cookie.

The conversation id is a bearer credential (whoever holds it reads that conversation
and the claims bound to it), so it travels only in this cookie — HttpOnly,
SameSite=Strict, signed by the app, scoped to /chat — never in a URL, a body or the
page. The app hands a new one to a visitor who has none (GET /chat).
"""

from __future__ import annotations

import hmac
import re
import secrets

from channels.settings import ChannelSettings

COOKIE = "claims_chat"
CONVERSATION = re.compile(r"^web:[A-Za-z0-9_-]{8,64}$")


def new_conversation_id() -> str:
    return "web:" + secrets.token_hex(12)


def _mac(settings: ChannelSettings, payload: str) -> str:
    assert settings.webchat_cookie_key is not None
    key = bytes.fromhex(settings.webchat_cookie_key.get_secret_value())
    return hmac.new(key, payload.encode(), "sha256").hexdigest()


def sign(settings: ChannelSettings, conversation_id: str, now: float) -> str:
    payload = f"{conversation_id}|{int(now)}"
    return f"{payload}|{_mac(settings, payload)}"


def read(settings: ChannelSettings, value: str | None, now: float) -> str | None:
    """The conversation of a cookie this app signed that has not outlived the web
    binding (BINDING_DAYS_WEB); None for anything else."""
    if not value or value.count("|") != 2 or settings.webchat_cookie_key is None:
        return None
    conversation_id, issued, mac = value.split("|")
    payload = f"{conversation_id}|{issued}"
    if not hmac.compare_digest(mac.encode(), _mac(settings, payload).encode()):
        return None
    if not issued.isdigit() or now - int(issued) > settings.binding_days_web * 86400:
        return None
    if not CONVERSATION.fullmatch(conversation_id):
        return None
    return conversation_id


def cookie_attributes(settings: ChannelSettings) -> dict[str, object]:
    """Arguments for `Response.set_cookie` besides key and value."""
    return {
        "max_age": int(settings.binding_days_web * 86400),
        "httponly": True,
        "samesite": "strict",
        "secure": (settings.public_base_url or "").startswith("https://"),
        "path": "/chat",
    }
