"""The signed cookie that is to carry the web chat's conversation id (issue 11, item 5):
forged, altered or outlived cookies name no conversation."""

from __future__ import annotations

import time

from backend.core.security import (
    conversation_cookie_attributes,
    read_conversation_cookie,
    sign_conversation_cookie,
)
from backend.core.settings import Settings


def test_a_signed_cookie_names_its_conversation_until_the_binding_expires(
    settings: Settings,
) -> None:
    now = time.time()
    cookie = sign_conversation_cookie(settings, "web:abcdefgh1234", now)
    assert read_conversation_cookie(settings, cookie, now + 60) == "web:abcdefgh1234"
    later = now + settings.binding_days_web * 86400 + 1
    assert read_conversation_cookie(settings, cookie, later) is None


def test_altered_or_foreign_cookies_name_nothing(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    now = time.time()
    cookie = sign_conversation_cookie(settings, "web:abcdefgh1234", now)
    other = cookie.replace("web:abcdefgh1234", "web:someoneelse99")
    assert read_conversation_cookie(settings, other, now) is None
    assert read_conversation_cookie(settings, "web:abcdefgh1234", now) is None
    assert read_conversation_cookie(settings, None, now) is None
    stranger = Settings(var_dir=tmp_path / "elsewhere")  # another app's secret
    assert read_conversation_cookie(stranger, cookie, now) is None
    wechat = sign_conversation_cookie(settings, "wechat:oAbc12345", now)
    assert read_conversation_cookie(settings, wechat, now) is None


def test_the_cookie_is_http_only_and_same_site_strict(settings: Settings) -> None:
    attributes = conversation_cookie_attributes(settings)
    assert attributes["httponly"] is True and attributes["samesite"] == "strict"
    https = settings.model_copy(update={"public_base_url": "https://claims.example.com"})
    assert conversation_cookie_attributes(https)["secure"] is True
