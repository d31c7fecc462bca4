"""One Settings object for the app process (backend, channel webhooks, worker).

Environment variables use the names in the README (DATABASE_URL, REDIS_URL, ...).
In `APP_ENV=development` (the embedded default of `make run` and the tests) missing
secrets are generated once and kept in var/dev-secrets.json so a restart keeps
documents readable and tokens valid; in production a missing secret stops start-up.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from channels.settings import ChannelSettings

DEV_SECRET_NAMES = (
    "bot_service_token",
    "jwt_secret",
    "payment_callback_secret",
    "document_keys",
    "rasa_token",
)


# Development values that were once fixed (and so are public): never accepted in
# production, and replaced in var/dev-secrets.json.
KNOWN_DEV_VALUES = frozenset({"dev-bot-token"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_env: Literal["development", "production"] = "development"
    var_dir: Path = Path("var")

    database_url: str = "sqlite:///./var/claims.db"
    database_echo: bool = False
    redis_url: str | None = None

    # Documents
    document_store: Literal["local", "s3"] = "local"
    document_dir: Path = Path("var/documents")
    s3_endpoint_url: str | None = None
    s3_bucket: str = "claims-documents"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str = "us-east-1"
    max_document_bytes: int = 10 * 1024 * 1024
    # Key ring "kid:base64key,kid:base64key"; the first key encrypts, all decrypt.
    document_keys: SecretStr | None = None

    # Callers
    bot_service_token: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    staff_token_minutes: int = 30
    payment_callback_secret: SecretStr | None = None
    # A payment callback signed further than this from now is stale (a replay): 401.
    payment_callback_max_age_seconds: int = Field(default=300, gt=0)

    # Identity verification lock-out
    verify_max_failures: int = 5
    verify_window_minutes: int = 15
    verify_lock_minutes: int = 15
    # Staff logins: an account or a source (client address) with this many failures
    # within the window is refused (423 / 429 with Retry-After) until they age out.
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_source: int = Field(default=20, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    # Password hashes computed at once (argon2 is CPU-bound); others wait this long.
    login_hash_concurrency: int = Field(default=2, ge=1)
    login_queue_seconds: float = Field(default=5.0, gt=0)
    # Console sign-in (server-side session named by an HttpOnly cookie): it lasts a
    # working day at most, and ends sooner when nothing was done for the idle time.
    staff_session_hours: float = Field(default=10, gt=0)
    staff_session_idle_minutes: float = Field(default=60, gt=0)
    # ... and per policy, whatever the conversation (guesses spread over many of them).
    verify_policy_max_failures: int = Field(default=10, ge=1)
    verify_policy_window_minutes: int = Field(default=60, ge=1)
    # A conversation's binding to a policyholder lasts this long after verification;
    # then no claim data is shown until the person verifies again (notices still go).
    binding_days_web: float = Field(default=1, gt=0)
    binding_days_wechat: float = Field(default=180, gt=0)
    binding_days_sms: float = Field(default=180, gt=0)

    # Review and time limits (Insurance Law Art. 22–26; small-claims guideline)
    fast_track_medical: Decimal = Decimal("3000.00")
    fast_track_accident: Decimal = Decimal("3000.00")
    fast_track_auto: Decimal = Decimal("5000.00")
    decision_days: int = 30
    payment_days: int = 10
    rejection_notice_days: int = 3
    advance_payment_days: int = 60
    limitation_years: int = 2
    timezone: str = "Asia/Shanghai"

    # Other processes
    rasa_url: str = "http://127.0.0.1:5005"
    # Rasa's HTTP API (`rasa run --enable-api --auth-token ...`): conversations hold
    # personal data, so the API is never left open. The REST channel needs no token.
    rasa_token: SecretStr | None = None
    # Several Rasa replicas (scripts/run-scaled.sh, bot/endpoints-scaled.yml) share their
    # tracker and lock stores in REDIS_URL's Redis under this prefix (Rasa ignores one
    # that is not alphanumeric); a tracker untouched this long is dropped there (the
    # transcript stays in the database).
    rasa_store_key_prefix: str = Field(default="claims", pattern=r"^[A-Za-z0-9]+$")
    rasa_tracker_ttl_seconds: int = Field(default=30 * 86400, gt=0)
    # The URL the platforms call (scheme and host as seen from outside, behind any TLS
    # proxy). Twilio signs this URL, and status callbacks are built from it.
    public_base_url: str = "http://127.0.0.1:8000"

    # ---------------------------------------------------------------- channels
    # WeChat Official Account (公众号). The callback token signs every callback, so it is a
    # secret too. WECHAT_AES_KEY set = safe (AES) mode: plain callbacks are refused.
    wechat_token: SecretStr | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    wechat_reply_budget_seconds: float = Field(default=4.0, gt=0)
    wechat_signature_max_age_seconds: int = Field(default=300, gt=0)
    wechat_http_timeout_seconds: float = Field(default=10.0, gt=0)
    # Notice kind -> template id of the Official Account's template messages, as JSON
    # ({"approved": "tmpl-id", ...}); the fields each template takes are in
    # bot/wechat_templates.yml. A kind without a template cannot go out as a template.
    wechat_templates: dict[str, str] = Field(default_factory=dict)
    # Twilio SMS.
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_http_timeout_seconds: float = Field(default=15.0, gt=0)
    # Shared channel state in Redis (dedup, turn replies, buttons, WeChat token).
    redis_key_prefix: str = "claims:channels:"
    dedup_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    turn_result_ttl_seconds: int = Field(default=600, gt=0)
    button_ttl_seconds: int = Field(default=24 * 3600, gt=0)
    fallback_reply_text: str = "抱歉，系统繁忙，您的消息已收到，请稍后再试。"
    # An accepted SMS (Twilio has its 200 and will not send it again) is kept until it
    # is answered. The replica that took it answers it within the lease; after that the
    # notifications workers look for such messages every INBOUND_RETRY_SECONDS and
    # answer them, at most INBOUND_MAX_ATTEMPTS times in all. The lease must outlast the slowest turn
    # (Rasa's and Twilio's timeouts), or a slow turn is answered twice.
    inbound_lease_seconds: float = Field(default=120.0, gt=0)
    inbound_retry_seconds: float = Field(default=5.0, gt=0)
    inbound_max_attempts: int = Field(default=3, ge=1)

    # ---------------------------------------------------------------- notifications
    # Proactive SMS notices wait while these hours last ("HH:MM-HH:MM" in TIMEZONE;
    # empty = never). Replies to the customer and agents' messages are never held.
    sms_quiet_hours: str = "21:00-08:00"
    # Handoffs to a person. Agents answer in these hours ("HH:MM-HH:MM" in TIMEZONE,
    # "00:00-24:00" = always); outside them, or when nobody accepts within the wait,
    # the customer is promised a call-back within HANDOFF_CALLBACK_MINUTES (of the
    # service opening) and the bot carries on. An agent silent for the idle time loses
    # the conversation back to the queue. While waiting, a customer message Rasa reads
    # as one of these intents leaves the queue.
    service_hours: str = "08:00-22:00"
    handoff_wait_minutes: float = Field(default=10, gt=0)
    handoff_idle_minutes: float = Field(default=30, gt=0)
    handoff_callback_minutes: int = Field(default=30, ge=0)
    handoff_leave_intents: list[str] = ["cancel"]
    document_reminder_days: int = Field(default=3, ge=1)
    document_reminders_max: int = Field(default=2, ge=0)
    notice_max_attempts: int = Field(default=8, ge=1)
    notice_retry_base_seconds: float = Field(default=5.0, gt=0)
    notice_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # A notice still undelivered this long after its change is dropped as stale.
    notice_max_age_hours: int = Field(default=72, ge=1)
    # How long a worker holds the notices it took; after that another worker may
    # take them (the first one died).
    notice_lease_seconds: float = Field(default=60.0, gt=0)
    notice_batch_size: int = Field(default=100, ge=1)
    # How many notices of a batch are on their way at once (each waits on an API).
    notice_concurrency: int = Field(default=16, ge=1)
    # Without Redis the worker looks for new notices this often.
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    # With Redis the app's message wakes the worker at once; it still looks this often
    # for notices whose retry or quiet-hours wait is over, and in case a wake-up was lost.
    worker_redis_poll_seconds: float = Field(default=5.0, gt=0)
    # /health calls the worker dead when it has not reported for this long.
    worker_stale_seconds: float = Field(default=30.0, gt=0)

    demo_data: bool = Field(default=True, description="load demo policies into an empty database")
    # The local web chat is a try-out channel without platform credentials: on by
    # default in development, off in production unless asked for.
    web_chat: bool | None = None

    @model_validator(mode="after")
    def _hours(self) -> Settings:
        from backend.conversations.routes import QuietHours

        for name in ("sms_quiet_hours", "service_hours"):
            try:
                QuietHours.parse(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"{name.upper()}: {exc}") from None
        return self

    @model_validator(mode="after")
    def _secrets(self) -> Settings:
        if self.app_env == "production":
            public = [
                name.upper()
                for name in DEV_SECRET_NAMES
                if (value := getattr(self, name)) is not None
                and value.get_secret_value() in KNOWN_DEV_VALUES
            ]
            if public:
                names = ", ".join(public)
                raise ValueError(f"production refuses a known development value for: {names}")
        missing = [name for name in DEV_SECRET_NAMES if getattr(self, name) is None]
        if not missing:
            return self
        if self.app_env == "production":
            names = ", ".join(name.upper() for name in missing)
            raise ValueError(f"production needs these secrets set in the environment: {names}")
        stored = _load_dev_secrets(self.var_dir)
        for name in missing:
            setattr(self, name, SecretStr(stored[name]))
        return self

    @property
    def web_chat_enabled(self) -> bool:
        return self.web_chat if self.web_chat is not None else self.app_env == "development"

    @property
    def channels(self) -> ChannelSettings:
        """The channel adapters' view of these settings."""
        shared = {
            name: getattr(self, name)
            for name in ChannelSettings.model_fields
            if name != "webchat_cookie_key"
        }
        return ChannelSettings(**shared, webchat_cookie_key=self._derived_key(b"webchat-cookie"))

    def _derived_key(self, purpose: bytes) -> SecretStr | None:
        """A key of its own for each purpose, derived from JWT_SECRET."""
        if self.jwt_secret is None:
            return None
        secret = self.jwt_secret.get_secret_value().encode()
        return SecretStr(hmac.new(secret, purpose, "sha256").hexdigest())

    @property
    def binding_days(self) -> dict[str, float]:
        return {
            "web": self.binding_days_web,
            "wechat": self.binding_days_wechat,
            "sms": self.binding_days_sms,
        }

    @property
    def fast_track_limits(self) -> dict[str, Decimal]:
        return {
            "medical": self.fast_track_medical,
            "accident": self.fast_track_accident,
            "auto": self.fast_track_auto,
        }


def _load_dev_secrets(var_dir: Path) -> dict[str, str]:
    path = var_dir / "dev-secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    generated = {
        "bot_service_token": secrets.token_urlsafe(32),
        "jwt_secret": secrets.token_urlsafe(32),
        "payment_callback_secret": secrets.token_urlsafe(32),
        "document_keys": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "rasa_token": secrets.token_urlsafe(24),
    }
    changed = False
    for name, value in generated.items():
        # A fixed token of older set-ups is public knowledge: replace it.
        if name not in stored or stored[name] in KNOWN_DEV_VALUES:
            stored[name] = value
            changed = True
    if changed:
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return stored


@lru_cache
def get_settings() -> Settings:
    return Settings()
