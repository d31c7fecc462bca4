"""Safe (AES) mode: decrypt callbacks and encrypt passive replies with wechatpy.crypto.

The signature is checked by `channels.wechat.signature` (constant time, replay window)
before anything is decrypted, so wechatpy's own `!=` check is not relied upon.
"""

from __future__ import annotations

from wechatpy.crypto import PrpCrypto, WeChatCrypto


class DecryptError(Exception):
    """The Encrypt field could not be decrypted or was meant for another AppID."""


class SafeModeCrypto:
    def __init__(self, *, token: str, encoding_aes_key: str, app_id: str) -> None:
        try:
            self._crypto = WeChatCrypto(token, encoding_aes_key, app_id)
        except (AssertionError, ValueError) as exc:
            # binascii.Error is a ValueError; wechatpy asserts a 32-byte key.
            raise ValueError("WECHAT_AES_KEY must be the 43-character EncodingAESKey") from exc
        self._app_id = app_id

    def decrypt(self, encrypted: str) -> str:
        """Return the inner XML of a safe-mode callback's Encrypt field."""
        try:
            return str(PrpCrypto(self._crypto.key).decrypt(encrypted, self._app_id))
        except Exception as exc:  # bad base64, padding or AppID: all mean "not for us"
            raise DecryptError(type(exc).__name__) from None

    def encrypt_reply(self, xml: str, *, nonce: str, timestamp: str) -> str:
        """Wrap a passive reply as WeChat expects in safe mode (Encrypt + MsgSignature)."""
        return str(self._crypto.encrypt_message(xml, nonce, timestamp))
