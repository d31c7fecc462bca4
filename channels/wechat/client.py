"""Async client for the WeChat Official Account API (customer-service and template
messages, temporary media).

Why not wechatpy's WeChatClient: it is synchronous (requests), its token URL is fixed
to api.weixin.qq.com, its default per-process token storage makes every replica fetch
(and invalidate) its own token, and with `auto_retry` a persistent token error recursed
through 187 token fetches. Here:

- the token comes from `POST /cgi-bin/stable_token` (normal mode does not invalidate
  other holders' tokens) and is cached in the shared `KeyValueStore` (Redis when
  configured), refreshed under a lock so one process refreshes for all;
- a token error (40001, 40014, 42001) triggers exactly one refresh and one retry, then
  `WeChatTokenError`: at most two API calls and two token fetches per operation;
- the token is never logged (httpx's request log is redacted) and never put in errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from channels.redact import install_access_token_redaction, mask_id
from channels.store import KeyValueStore

logger = logging.getLogger(__name__)

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
ERRCODE_WINDOW_CLOSED = 45015
ERRCODE_QUOTA_EXCEEDED = 45047
MAX_MEDIA_BYTES = 20 * 1024 * 1024
# Refresh a little before WeChat's expiry so a token is never used in its last minutes.
TOKEN_EXPIRY_MARGIN_SECONDS = 300


class WeChatApiError(Exception):
    def __init__(self, errcode: int | None, errmsg: str, *, path: str) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path
        super().__init__(f"WeChat API {path} failed: errcode={errcode} errmsg={errmsg}")


class WeChatTokenError(WeChatApiError):
    """No usable access token: refused by the token endpoint, or rejected again after
    one refresh (wrong AppSecret, caller IP not whitelisted, another system forcing
    refreshes...). Not retried: a loop would only burn the daily token quota."""


class WeChatWindowClosedError(WeChatApiError):
    """45015: the person has not written within 48 hours, or has unsubscribed.
    Use a template message (or another channel) instead."""


class WeChatQuotaExceededError(WeChatApiError):
    """45047: the customer-service message quota for this person is used up."""


class WeChatTransportError(WeChatApiError):
    """No answer from WeChat (timeout, connection error, 5xx).

    `request_sent` is False when the request certainly never left (connection refused),
    the only case where resending cannot produce a duplicate message."""

    def __init__(self, errmsg: str, *, path: str, request_sent: bool) -> None:
        super().__init__(None, errmsg, path=path)
        self.request_sent = request_sent


@dataclass(frozen=True)
class DownloadedMedia:
    data: bytes
    content_type: str
    filename: str


_FILENAME_RE = re.compile(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "audio/amr": "amr",
    "voice/speex": "speex",
    "audio/speex": "speex",
    "application/pdf": "pdf",
}


def _safe_filename(name: str, fallback: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip(".")
    name = re.sub(r"[\x00-\x1f\"<>|:*?]", "_", name)
    return name[:120] or fallback


class WeChatApiClient:
    def __init__(
        self,
        *,
        app_id: str,
        app_secret: SecretStr,
        base_url: str,
        http: httpx.AsyncClient,
        store: KeyValueStore,
        refresh_lock_seconds: float = 10.0,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._base_url = base_url.rstrip("/")
        self._http = http
        self._store = store
        self._refresh_lock_seconds = refresh_lock_seconds
        self._token_key = f"wechat:access_token:{app_id}"
        self._lock_key = f"wechat:access_token_lock:{app_id}"
        install_access_token_redaction()

    # -- access token -------------------------------------------------------------

    async def access_token(self) -> str:
        token = await self._store.get(self._token_key)
        if token:
            return token
        return await self._refresh(stale=None)

    async def _refresh(self, *, stale: str | None) -> str:
        """Get a token other than `stale`, fetching it only if no other process did."""
        lock_value = secrets.token_hex(8)
        deadline = time.monotonic() + self._refresh_lock_seconds
        while True:
            current = await self._store.get(self._token_key)
            if current and current != stale:
                return current
            if await self._store.set_if_absent(
                self._lock_key, lock_value, self._refresh_lock_seconds
            ):
                try:
                    current = await self._store.get(self._token_key)
                    if current and current != stale:
                        return current
                    token, expires_in = await self._fetch_stable_token(force_refresh=False)
                    if stale is not None and token == stale:
                        # Normal mode hands back the token WeChat just rejected (e.g. someone
                        # called /cgi-bin/token): only a forced refresh replaces it.
                        token, expires_in = await self._fetch_stable_token(force_refresh=True)
                    ttl = max(60, expires_in - TOKEN_EXPIRY_MARGIN_SECONDS)
                    await self._store.set(self._token_key, token, ttl)
                    return token
                finally:
                    await self._store.delete_if_equals(self._lock_key, lock_value)
            if time.monotonic() >= deadline:
                raise WeChatTokenError(
                    None,
                    "timed out waiting for another process to refresh the access token",
                    path="/cgi-bin/stable_token",
                )
            await asyncio.sleep(0.05)

    async def _fetch_stable_token(self, *, force_refresh: bool) -> tuple[str, int]:
        path = "/cgi-bin/stable_token"
        logger.info("wechat: fetching access token (force_refresh=%s)", force_refresh)
        body = {
            "grant_type": "client_credential",
            "appid": self._app_id,
            "secret": self._app_secret.get_secret_value(),
            "force_refresh": force_refresh,
        }
        response = await self._send("POST", path, json_body=body)
        result = self._decode_json(response, path)
        errcode = int(result.get("errcode") or 0)
        token = result.get("access_token")
        if errcode or not isinstance(token, str) or not token:
            raise WeChatTokenError(
                errcode or None,
                f"token endpoint refused: {result.get('errmsg', 'no access_token')}",
                path=path,
            )
        return token, int(result.get("expires_in") or 7200)

    # -- transport ------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        content = None
        headers = {}
        if json_body is not None:
            # UTF-8 as is: WeChat shows \\uXXXX escapes literally in some APIs.
            content = json.dumps(json_body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = await self._http.request(
                method,
                self._base_url + path,
                params=dict(params or {}),
                content=content,
                files=dict(files) if files else None,
                headers=headers,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # `from None`: httpx's exception text would carry the URL, and the URL the token.
            raise WeChatTransportError(type(exc).__name__, path=path, request_sent=False) from None
        except httpx.HTTPError as exc:
            raise WeChatTransportError(type(exc).__name__, path=path, request_sent=True) from None
        if response.status_code >= 500:
            raise WeChatTransportError(f"HTTP {response.status_code}", path=path, request_sent=True)
        return response

    @staticmethod
    def _decode_json(response: httpx.Response, path: str) -> dict[str, Any]:
        try:
            result = json.loads(response.content.decode("utf-8", "replace"), strict=False)
        except ValueError:
            raise WeChatApiError(
                None, f"HTTP {response.status_code}, body is not JSON", path=path
            ) from None
        if not isinstance(result, dict):
            raise WeChatApiError(None, "JSON body is not an object", path=path)
        return result

    @staticmethod
    def _raise_for_errcode(errcode: int, errmsg: str, path: str) -> None:
        if errcode == ERRCODE_WINDOW_CLOSED:
            raise WeChatWindowClosedError(errcode, errmsg, path=path)
        if errcode == ERRCODE_QUOTA_EXCEEDED:
            raise WeChatQuotaExceededError(errcode, errmsg, path=path)
        raise WeChatApiError(errcode, errmsg, path=path)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        binary_ok: bool = False,
    ) -> tuple[httpx.Response, dict[str, Any] | None]:
        """One API call with the access token; one refresh-and-retry on token errors.

        Returns the response and its JSON object, or None as JSON when `binary_ok` and
        the body is not JSON (media download).
        """
        token = await self.access_token()
        for attempt in (1, 2):
            response = await self._send(
                method,
                path,
                params={**(params or {}), "access_token": token},
                json_body=json_body,
                files=files,
            )
            content_type = response.headers.get("content-type", "")
            if binary_ok and "json" not in content_type and "text/plain" not in content_type:
                return response, None
            result = self._decode_json(response, path)
            errcode = int(result.get("errcode") or 0)
            errmsg = str(result.get("errmsg", ""))
            if errcode in TOKEN_ERRCODES:
                if attempt == 1:
                    logger.warning(
                        "wechat: %s rejected the access token (%s); refreshing once", path, errcode
                    )
                    token = await self._refresh(stale=token)
                    continue
                raise WeChatTokenError(
                    errcode,
                    f"{errmsg}; the access token was rejected again right after a refresh, "
                    "giving up (check WECHAT_APP_ID/WECHAT_APP_SECRET, the API IP whitelist, "
                    "and that nothing else forces token refreshes)",
                    path=path,
                )
            if errcode:
                self._raise_for_errcode(errcode, errmsg, path)
            return response, result
        raise AssertionError("unreachable")

    async def _call_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        _, result = await self._call(method, path, **kwargs)
        assert result is not None
        return result

    # -- messages -------------------------------------------------------------------

    async def send_custom_message(self, openid: str, msgtype: str, body: Mapping[str, Any]) -> None:
        """Customer-service message (客服消息): only within 48 h of the person's last
        message, a few per window (45015 / 45047 otherwise)."""
        payload = {"touser": openid, "msgtype": msgtype, msgtype: dict(body)}
        await self._call_json("POST", "/cgi-bin/message/custom/send", json_body=payload)
        logger.info("wechat: customer-service %s message sent to %s", msgtype, mask_id(openid))

    async def send_text(self, openid: str, content: str) -> None:
        await self.send_custom_message(openid, "text", {"content": content})

    async def send_image(self, openid: str, media_id: str) -> None:
        await self.send_custom_message(openid, "image", {"media_id": media_id})

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, str],
        *,
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> int:
        """Template message (模板消息), usable outside the 48-hour window; returns msgid.

        `client_msg_id` makes WeChat drop a resend of the same message (idempotency).
        """
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if url:
            payload["url"] = url
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id
        result = await self._call_json("POST", "/cgi-bin/message/template/send", json_body=payload)
        logger.info("wechat: template message sent to %s", mask_id(openid))
        return int(result.get("msgid") or 0)

    # -- media ----------------------------------------------------------------------

    async def download_media(self, media_id: str) -> DownloadedMedia:
        """Fetch a temporary media file (what a person sent; ids expire after 3 days)."""
        path = "/cgi-bin/media/get"
        response, result = await self._call(
            "GET", path, params={"media_id": media_id}, binary_ok=True
        )
        if result is not None:
            # JSON with errcode 0: video media come back as {"video_url": ...}.
            raise WeChatApiError(None, "media is not a downloadable file", path=path)
        if len(response.content) > MAX_MEDIA_BYTES:
            raise WeChatApiError(None, "media larger than allowed", path=path)
        content_type = response.headers.get("content-type", "application/octet-stream")
        content_type = content_type.split(";")[0].strip() or "application/octet-stream"
        extension = _EXTENSIONS.get(content_type, "bin")
        fallback = f"{media_id[:40]}.{extension}"
        match = _FILENAME_RE.search(response.headers.get("content-disposition", ""))
        filename = _safe_filename(match.group(1), fallback) if match else fallback
        return DownloadedMedia(data=response.content, content_type=content_type, filename=filename)

    async def upload_media(
        self, media_type: str, data: bytes, *, filename: str, content_type: str
    ) -> str:
        """Upload a temporary media file (image, voice, video, thumb); return its media_id."""
        result = await self._call_json(
            "POST",
            "/cgi-bin/media/upload",
            params={"type": media_type},
            files={"media": (filename, data, content_type)},
        )
        media_id = result.get("media_id")
        if not isinstance(media_id, str):
            raise WeChatApiError(
                None, "upload answer has no media_id", path="/cgi-bin/media/upload"
            )
        return media_id
