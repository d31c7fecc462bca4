"""Logging set-up; secrets never reach the logs (SecretStr, and redacting filters
for the places a credential travels in a URL: WeChat's access_token, the signed query
string of the platforms' callbacks)."""

from __future__ import annotations

import logging
import re

_SECRET_QUERY = re.compile(
    r"(access_token|token|secret|signature|msg_signature|nonce|openid|echostr|conversation_id)"
    r"=([^&\s\"]+)",
    re.I,
)
# Routes whose query string is a credential (the platforms sign it; the web chat used
# to carry its conversation id in it): the access log keeps only the path.
_QUERY_FREE_PREFIXES = ("/channels/", "/chat/", "/api/v1/payments/")


# A phone number in E.164 (`sms:+8613812345678` in a conversation id): personal data.
_PHONE = re.compile(r"\+\d{7,15}\b")


def _mask_phone(match: re.Match[str]) -> str:
    number = match.group(0)
    return f"{number[:6]}****{number[-4:]}"


def redact(message: str) -> str:
    return _PHONE.sub(_mask_phone, _SECRET_QUERY.sub(r"\1=***", message))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def strip_query(path: str) -> str:
    """`/channels/wechat?signature=…` -> `/channels/wechat`; other paths are redacted."""
    bare, sep, _query = path.partition("?")
    if sep and bare.startswith(_QUERY_FREE_PREFIXES):
        return bare
    return redact(path)


class AccessLogWithoutQueries(logging.Filter):
    """uvicorn.access logs `(client, method, path?query, http_version, status)` on its
    own handler, which never passes the root handler's filters."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], strip_query(args[2]), *args[3:])
        return True


def install_access_log_filter() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogWithoutQueries) for f in access.filters):
        access.addFilter(AccessLogWithoutQueries())


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(isinstance(f, RedactSecrets) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    root.setLevel(level)
    install_access_log_filter()
    # httpx logs full request URLs at INFO; keep them out.
    logging.getLogger("httpx").setLevel(logging.WARNING)
