"""Logging set-up; secrets never reach the logs (SecretStr, and a redacting filter
for the few places a token travels in a URL, such as WeChat's access_token)."""

from __future__ import annotations

import logging
import re

_SECRET_QUERY = re.compile(r"(access_token|token|secret|signature|msg_signature)=([^&\s]+)", re.I)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_QUERY.sub(r"\1=***", message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(isinstance(f, RedactSecrets) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    root.setLevel(level)
    # httpx logs full request URLs at INFO; keep them out.
    logging.getLogger("httpx").setLevel(logging.WARNING)
