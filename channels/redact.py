"""Keep secrets and personal numbers out of logs."""

from __future__ import annotations

import logging
import re

_ACCESS_TOKEN_RE = re.compile(r"(access_token=)[^&\s\"'>]+")


def mask_phone(number: str | None) -> str:
    """+8613812345678 -> +86138****5678 (enough to tell numbers apart in a log)."""
    if not number:
        return "-"
    if len(number) <= 7:
        return "***"
    return f"{number[:6]}****{number[-4:]}"


def mask_id(value: str | None) -> str:
    """An openid or conversation id, shortened: oAbc…wxyz."""
    if not value:
        return "-"
    if len(value) <= 8:
        return "***"
    return f"{value[:4]}…{value[-4:]}"


class AccessTokenRedactingFilter(logging.Filter):
    """httpx logs every request URL at INFO, and WeChat puts the access token in the URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "access_token=" in message:
            record.msg = _ACCESS_TOKEN_RE.sub(r"\1***", message)
            record.args = None
        return True


_installed = False


def install_access_token_redaction() -> None:
    """Attach the filter to the loggers that print request URLs (idempotent)."""
    global _installed
    if _installed:
        return
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).addFilter(AccessTokenRedactingFilter())
    _installed = True
