"""`python -m backend.cli rasa-stores`: what bot/endpoints-scaled.yml is given, from the
app's settings (the bot-env test tests/bot/test_endpoints_scaled.py runs Rasa's stores
on it against the real Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.cli import main
from backend.core.settings import Settings


def test_rasa_stores_come_from_redis_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", "redis://:s%40cret@redis.internal:6380/2")
    monkeypatch.setenv("RASA_STORE_KEY_PREFIX", "claimsprod")
    from backend.core.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["rasa-stores"]) == 0
    finally:
        get_settings.cache_clear()
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "export RASA_ENDPOINTS=bot/endpoints-scaled.yml",
        "export RASA_REDIS_HOST=redis.internal",
        "export RASA_REDIS_PORT=6380",
        "export RASA_REDIS_DB=2",
        "export RASA_REDIS_PASSWORD=s@cret",
        "export RASA_STORE_KEY_PREFIX=claimsprod",
        "export RASA_TRACKER_TTL_SECONDS=2592000",
    ]


@pytest.mark.parametrize(
    ("redis_url", "why"),
    [(None, "REDIS_URL is not set"), ("rediss://h:6379/0", "redis:// expected")],
)
def test_no_shared_redis_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    redis_url: str | None,
    why: str,
) -> None:
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    if redis_url is None:
        monkeypatch.delenv("REDIS_URL", raising=False)
    else:
        monkeypatch.setenv("REDIS_URL", redis_url)
    from backend.core.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["rasa-stores"]) == 2
    finally:
        get_settings.cache_clear()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert why in captured.err


def test_a_prefix_rasa_would_silently_ignore_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="rasa_store_key_prefix"):
        Settings(var_dir=tmp_path, rasa_store_key_prefix="claims:bot")
