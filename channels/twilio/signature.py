"""X-Twilio-Signature validation over the public URL.

Twilio signs the URL it called (https://public.host/path?query), not the one the app
sees behind a TLS-terminating proxy (http://10.0.0.5:8000/path), so the URL is rebuilt
from PUBLIC_BASE_URL plus the request path and query.
"""

from __future__ import annotations

from typing import Any

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


class TwilioSignatureError(Exception):
    """Not signed by Twilio with our auth token: answer 403, do nothing."""


def public_request_url(public_base_url: str, path: str, query: str) -> str:
    url = public_base_url.rstrip("/") + path
    return f"{url}?{query}" if query else url


def verify_twilio_signature(
    *, auth_token: str, url: str, params: Any, signature: str | None
) -> None:
    """`params` is the form (a multi-dict with `getlist`, or a plain dict)."""
    if not signature:
        raise TwilioSignatureError("missing X-Twilio-Signature")
    # RequestValidator compares in constant time and tries the URL with and without
    # the default port, as Twilio's own signing is inconsistent about it.
    if not RequestValidator(auth_token).validate(url, params, signature):
        raise TwilioSignatureError("signature mismatch")
