"""The real uvicorn access log, as `make run` writes it to stdout and var/log/app.log:
a webhook's signed query string (signature, nonce, openid) never appears in it."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import httpx
from pydantic import SecretStr

from backend.core.logging import RedactSecrets, configure_logging
from backend.core.settings import Settings
from backend.main import create_app
from tests.live_app import serving


def test_webhook_query_strings_stay_out_of_the_access_log(
    settings: Settings, tmp_path: Path
) -> None:
    log_file = tmp_path / "access.log"
    config_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(client_addr)s - "%(request_line)s" %(status_code)s',
            }
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(log_file),
                "formatter": "access",
            }
        },
        "loggers": {"uvicorn.access": {"handlers": ["file"], "level": "INFO", "propagate": False}},
    }
    app = create_app(settings.model_copy(update={"wechat_token": SecretStr("tok-for-the-log")}))
    try:
        with serving(app, log_config=config_dict, access_log=True) as base:
            query = {
                "signature": "5ecre7519a7ure0000000000000000000000000",
                "timestamp": str(int(time.time())),
                "nonce": "n0nce4242",
                "openid": "oSecretOpenId123",
            }
            r = httpx.post(f"{base}/channels/wechat", params=query, content=b"<xml/>")
            assert r.status_code == 403
            httpx.get(f"{base}/api/v1/claims", params={"status": "paid"})
    finally:
        access = logging.getLogger("uvicorn.access")
        for handler in list(access.handlers):
            handler.close()
            access.removeHandler(handler)
        access.propagate = True

    text = log_file.read_text()
    assert '"POST /channels/wechat HTTP/1.1" 403' in text
    for secret in ("5ecre7519a7ure", "n0nce4242", "oSecretOpenId123"):
        assert secret not in text
    # Query strings of other routes are kept (they are filters, not credentials).
    assert "/api/v1/claims?status=paid" in text


def test_phone_numbers_are_masked_in_the_app_log() -> None:
    configure_logging()
    [handler] = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactSecrets) for f in h.filters)
    ]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        logging.getLogger("backend.conversations.gateway").warning(
            "bot turn failed for %s: %s", "sms:+8613812345678", "ConnectError"
        )
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    line = buffer.getvalue()
    assert "bot turn failed for sms:+86138****5678: ConnectError" in line
    assert "+8613812345678" not in line
