"""Callback signature checks.

wechatpy's `check_signature` compares with `!=` and ignores the timestamp, so a captured
callback could be replayed forever. Here the comparison is constant-time and callbacks
outside the replay window are refused.
"""

from __future__ import annotations

import hmac
import time

from wechatpy.utils import WeChatSigner


class SignatureError(Exception):
    """The callback is not from WeChat (or is a replay): answer 403, do nothing."""


def compute_signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """WeChat's signature: SHA-1 of the sorted, concatenated token/timestamp/nonce(/Encrypt)."""
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce, *extra)
    return str(signer.signature)


def verify_signature(
    *,
    token: str,
    signature: str | None,
    timestamp: str | None,
    nonce: str | None,
    extra: tuple[str, ...] = (),
    max_age_seconds: int,
    now: float | None = None,
) -> None:
    """Raise `SignatureError` unless the signature matches and the timestamp is fresh."""
    if not signature or not timestamp or not nonce:
        raise SignatureError("missing signature, timestamp or nonce")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError("timestamp is not a number") from None
    current = time.time() if now is None else now
    # Future timestamps beyond the window are refused too: a replay window that only
    # looked backwards would accept a callback pre-signed with a future time.
    if abs(current - sent_at) > max_age_seconds:
        raise SignatureError("timestamp outside the replay window")
    expected = compute_signature(token, timestamp, nonce, *extra)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise SignatureError("signature mismatch")
