"""What the channel adapters need to know, handed to them by the app.

The app's one Settings object (backend/core/settings.py) reads the environment and
builds this view (`Settings.channels`); the channels never read the environment
themselves. A channel whose credentials are missing is simply disabled: its routes
answer 404 and its sender is not built, so `make run` works with no credentials at all.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ChannelSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    # WeChat Official Account (公众号). The callback token signs every callback, so it is a
    # secret too. WECHAT_AES_KEY set = safe (AES) mode: plain callbacks are refused.
    wechat_token: SecretStr | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    # WeChat gives up after 5 s and retries; answer passively only within this budget.
    wechat_reply_budget_seconds: float = Field(default=4.0, gt=0)
    # Callbacks whose timestamp is further than this from now are replays: 403.
    wechat_signature_max_age_seconds: int = Field(default=300, gt=0)
    wechat_http_timeout_seconds: float = Field(default=10.0, gt=0)

    # Twilio SMS.
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_http_timeout_seconds: float = Field(default=15.0, gt=0)

    # The URL the platforms call (scheme and host as seen from outside, behind any TLS
    # proxy). Twilio signs this URL, and status callbacks are built from it.
    public_base_url: str | None = None

    # Redis: shared dedup, turn replies, button maps and the WeChat token across replicas.
    # Unset = in-process state (one replica only).
    redis_url: str | None = None
    redis_key_prefix: str = "claims:channels:"

    # How long a platform message id is remembered to drop the platform's retries.
    dedup_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    # How long a finished turn's reply is kept for retries to reuse.
    turn_result_ttl_seconds: int = Field(default=600, gt=0)
    # Numbered buttons stay answerable this long.
    button_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    # Web chat: the key that signs its conversation cookie (derived from the app's
    # secret; None = no web chat), how long a visitor stays the same conversation, and
    # the largest attachment it takes.
    webchat_cookie_key: SecretStr | None = None
    binding_days_web: float = Field(default=1.0, gt=0)
    max_document_bytes: int = Field(default=10 * 1024 * 1024, gt=0)

    # Said to the user when the gateway itself fails (it should normally answer with its
    # own apology); empty = say nothing.
    fallback_reply_text: str = "抱歉，系统繁忙，您的消息已收到，请稍后再试。"

    @property
    def wechat_enabled(self) -> bool:
        return self.wechat_token is not None and bool(self.wechat_token.get_secret_value())

    @property
    def wechat_api_enabled(self) -> bool:
        return bool(self.wechat_app_id) and self.wechat_app_secret is not None

    @property
    def wechat_safe_mode(self) -> bool:
        return self.wechat_aes_key is not None and bool(self.wechat_aes_key.get_secret_value())

    @property
    def twilio_enabled(self) -> bool:
        return (
            bool(self.twilio_account_sid)
            and self.twilio_auth_token is not None
            and bool(self.public_base_url)
        )

    @property
    def twilio_status_callback_url(self) -> str | None:
        if not self.public_base_url:
            return None
        return self.public_base_url.rstrip("/") + "/channels/twilio/status"
