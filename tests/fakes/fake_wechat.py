"""A fake WeChat Official Account API on 127.0.0.1, and signed callbacks as WeChat sends them.

The server speaks the API as the real one answers it (errcode/errmsg JSON, media as
bytes with Content-disposition), for what the app calls:

    GET  /cgi-bin/token                  access token (regular)
    POST /cgi-bin/stable_token           access token (stable; force_refresh)
    POST /cgi-bin/message/custom/send    customer-service message (recorded)
    POST /cgi-bin/message/template/send  template message (recorded)
    GET  /cgi-bin/media/get              temporary media (tests preload it)
    POST /cgi-bin/media/upload           temporary media upload (multipart "media")

Failure modes, switchable per test: `delay()`, `fail_http()`, `fail_next()` (any
errcode, e.g. 40001/42001 for "token expired" on the next N calls), `expire_token()`,
`close_window()` (45015), `exhaust_quota()` (45047), `not_following()` (43004 on both
send paths: the person does not follow the account, or unfollowed it).

    with FakeWeChat() as wechat:
        settings = ChannelSettings(wechat_api_base_url=wechat.base_url, ...)
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from tests.fakes.http import FakeRequest, FakeResponse, LoopbackFake, LoopbackServer

API_PATHS = (
    "/cgi-bin/message/custom/send",
    "/cgi-bin/message/template/send",
    "/cgi-bin/media/get",
    "/cgi-bin/media/upload",
)
TOKEN_PATHS = ("/cgi-bin/token", "/cgi-bin/stable_token")

ERRMSG = {
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40007: "invalid media_id",
    40013: "invalid appid",
    40014: "invalid access_token",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44004: "empty content",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    -1: "system error",
}


def _error(errcode: int) -> FakeResponse:
    rid = secrets.token_hex(4)
    return FakeResponse.json(
        {"errcode": errcode, "errmsg": f"{ERRMSG.get(errcode, 'error')} rid: {rid}"}
    )


@dataclass
class StoredMedia:
    data: bytes
    content_type: str
    filename: str


@dataclass
class _Failure:
    remaining: int
    paths: tuple[str, ...] | None
    errcode: int = 0
    status: int = 0

    def applies(self, path: str) -> bool:
        return self.remaining > 0 and (self.paths is None or path in self.paths)


@dataclass
class ApiCall:
    path: str
    access_token: str | None
    body: bytes


@dataclass
class FakeWeChat(LoopbackFake):
    app_id: str = "wx0123456789abcdef"
    app_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    token_fetches: int = 0
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    api_calls: list[ApiCall] = field(default_factory=list)
    sent_messages: list[dict[str, Any]] = field(default_factory=list)
    template_messages: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, StoredMedia] = field(default_factory=dict)
    closed_windows: set[str] = field(default_factory=set)
    exhausted_quota: set[str] = field(default_factory=set)
    reply_quota: dict[str, int] = field(default_factory=dict)
    not_followers: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._valid_tokens: set[str] = set()
        self._expired_tokens: set[str] = set()
        self._stable_token: str | None = None
        self._regular_token: str | None = None
        self._failures: list[_Failure] = []
        self._delays: dict[str | None, float] = {}
        self._msgids = itertools.count(2_000_000_001)
        self._server = LoopbackServer(self._handle)

    # -- test controls --------------------------------------------------------------

    def add_media(
        self, media_id: str, data: bytes, content_type: str = "image/jpeg", filename: str = ""
    ) -> None:
        """Media a person sent: what `GET /cgi-bin/media/get` will return for `media_id`."""
        with self._lock:
            self.media[media_id] = StoredMedia(data, content_type, filename or f"{media_id}.jpg")

    def delay(self, seconds: float, *paths: str) -> None:
        """Answer after `seconds` (all paths when none given)."""
        with self._lock:
            if paths:
                for path in paths:
                    self._delays[path] = seconds
            else:
                self._delays[None] = seconds

    def fail_http(self, status: int = 500, times: int = 1, *paths: str) -> None:
        with self._lock:
            self._failures.append(_Failure(times, paths or None, status=status))

    def fail_next(self, errcode: int, times: int = 1, *paths: str) -> None:
        """The next `times` API calls (not token fetches) answer `errcode`."""
        with self._lock:
            self._failures.append(_Failure(times, paths or API_PATHS, errcode=errcode))

    def expire_token(self) -> None:
        """Every token issued so far expires (42001); the next stable_token issues a new one."""
        with self._lock:
            self._expired_tokens |= self._valid_tokens
            self._valid_tokens.clear()
            self._stable_token = self._regular_token = None

    def close_window(self, openid: str) -> None:
        """The 48-hour customer-service window with `openid` is closed (45015)."""
        with self._lock:
            self.closed_windows.add(openid)

    def exhaust_quota(self, openid: str) -> None:
        with self._lock:
            self.exhausted_quota.add(openid)

    def not_following(self, openid: str) -> None:
        """`openid` does not follow the account (or unfollowed it): customer-service and
        template messages to it answer 43004."""
        with self._lock:
            self.not_followers.add(openid)

    def limit_replies(self, openid: str, count: int) -> None:
        """Accept `count` more customer-service messages to `openid`, then 45047, as
        WeChat does (5 per message the user sent, within 48 hours)."""
        with self._lock:
            self.reply_quota[openid] = count

    def calls_to(self, path: str) -> list[ApiCall]:
        with self._lock:
            return [c for c in self.api_calls if c.path == path]

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `count` customer-service messages were accepted (or time out)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.sent_messages) >= count, timeout=timeout)
            return list(self.sent_messages)

    def messages_to(self, openid: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.sent_messages if m.get("touser") == openid]

    # -- server ---------------------------------------------------------------------

    def _take_failure(self, path: str, kind: str) -> _Failure | None:
        for failure in self._failures:
            if failure.applies(path) and bool(failure.status) == (kind == "http"):
                failure.remaining -= 1
                return failure
        return None

    def _handle(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            delay = self._delays.get(request.path, self._delays.get(None, 0.0))
        if delay:
            time.sleep(delay)
        with self._lock:
            http_failure = self._take_failure(request.path, "http")
            if http_failure is not None:
                return FakeResponse(
                    http_failure.status,
                    b"<html><body>Bad Gateway</body></html>",
                    {"Content-Type": "text/html"},
                )
            if request.path == "/cgi-bin/token" and request.method == "GET":
                return self._token(request)
            if request.path == "/cgi-bin/stable_token" and request.method == "POST":
                return self._stable_token_endpoint(request)
            if request.path not in API_PATHS:
                return FakeResponse(404, b"not found")
            token = request.arg("access_token")
            self.api_calls.append(ApiCall(request.path, token, request.body))
            if not token:
                return _error(41001)
            if token in self._expired_tokens:
                return _error(42001)
            if token not in self._valid_tokens:
                return _error(40001)
            failure = self._take_failure(request.path, "errcode")
            if failure is not None:
                return _error(failure.errcode)
            if request.path == "/cgi-bin/message/custom/send":
                return self._custom_send(request)
            if request.path == "/cgi-bin/message/template/send":
                return self._template_send(request)
            if request.path == "/cgi-bin/media/get":
                return self._media_get(request)
            return self._media_upload(request)

    def _new_token(self) -> str:
        token = secrets.token_urlsafe(96)
        self._valid_tokens.add(token)
        return token

    def _check_credentials(self, appid: str | None, secret: str | None) -> FakeResponse | None:
        if appid != self.app_id:
            return _error(40013)
        if secret != self.app_secret:
            return _error(40125)
        return None

    def _token(self, request: FakeRequest) -> FakeResponse:
        self.token_fetches += 1
        self.token_requests.append({"endpoint": "token"})
        refused = self._check_credentials(request.arg("appid"), request.arg("secret"))
        if refused:
            return refused
        # A regular fetch replaces the previous regular token (stable ones are separate).
        if self._regular_token:
            self._valid_tokens.discard(self._regular_token)
        self._regular_token = self._new_token()
        return FakeResponse.json({"access_token": self._regular_token, "expires_in": 7200})

    def _stable_token_endpoint(self, request: FakeRequest) -> FakeResponse:
        self.token_fetches += 1
        body = request.json()
        force = bool(body.get("force_refresh"))
        self.token_requests.append({"endpoint": "stable_token", "force_refresh": force})
        if body.get("grant_type") != "client_credential":
            return _error(40002)
        refused = self._check_credentials(body.get("appid"), body.get("secret"))
        if refused:
            return refused
        if force or self._stable_token is None:
            if self._stable_token:
                self._valid_tokens.discard(self._stable_token)
            self._stable_token = self._new_token()
        return FakeResponse.json({"access_token": self._stable_token, "expires_in": 7200})

    def _custom_send(self, request: FakeRequest) -> FakeResponse:
        payload = request.json()
        openid = payload.get("touser") or ""
        msgtype = payload.get("msgtype")
        if not openid:
            return _error(40003)
        if openid in self.not_followers:
            return _error(43004)
        if openid in self.closed_windows:
            return _error(45015)
        if openid in self.exhausted_quota or self.reply_quota.get(openid, 1) <= 0:
            return _error(45047)
        if msgtype == "text" and not (payload.get("text") or {}).get("content"):
            return _error(44004)
        if msgtype in ("image", "voice"):
            media_id = (payload.get(msgtype) or {}).get("media_id")
            if media_id not in self.media:
                return _error(40007)
        if openid in self.reply_quota:
            self.reply_quota[openid] -= 1
        self.sent_messages.append(payload)
        self._lock.notify_all()
        return FakeResponse.json({"errcode": 0, "errmsg": "ok"})

    def _template_send(self, request: FakeRequest) -> FakeResponse:
        payload = request.json()
        if not payload.get("touser"):
            return _error(40003)
        if payload["touser"] in self.not_followers:
            return _error(43004)
        msgid = next(self._msgids)
        self.template_messages.append({**payload, "msgid": msgid})
        self._lock.notify_all()
        return FakeResponse.json({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    def _media_get(self, request: FakeRequest) -> FakeResponse:
        stored = self.media.get(request.arg("media_id") or "")
        if stored is None:
            return _error(40007)
        return FakeResponse(
            200,
            stored.data,
            {
                "Content-Type": stored.content_type,
                "Content-disposition": f'attachment; filename="{stored.filename}"',
                "Cache-Control": "no-cache, must-revalidate",
            },
        )

    def _media_upload(self, request: FakeRequest) -> FakeResponse:
        media_type = request.arg("type") or ""
        content_type = request.headers.get("content-type", "")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
        )
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "media":
                data = part.get_payload(decode=True)
                media_id = "UPLOADED_" + secrets.token_hex(8)
                self.media[media_id] = StoredMedia(
                    data if isinstance(data, bytes) else b"",
                    part.get_content_type(),
                    part.get_filename() or media_id,
                )
                return FakeResponse.json(
                    {"type": media_type, "media_id": media_id, "created_at": int(time.time())}
                )
        return FakeResponse.json({"errcode": 41005, "errmsg": "media data missing"})


# -- callbacks as WeChat sends them ----------------------------------------------------


@dataclass(frozen=True)
class SignedCallback:
    params: dict[str, str]  # query string of the POST
    body: bytes
    inner_xml: str  # the message XML (before encryption in safe mode)


def _signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


class WeChatCallbacks:
    """Builds callbacks exactly as WeChat signs them (plain, or safe mode with AES)."""

    def __init__(
        self,
        *,
        token: str,
        app_id: str,
        aes_key: str | None = None,
        account: str = "gh_0123456789ab",
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.aes_key = aes_key
        self.account = account
        self._msg_ids = itertools.count(24_000_000_000_000_000 + secrets.randbelow(10**9))
        self._crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None

    @staticmethod
    def _nonce() -> str:
        return str(secrets.randbelow(10**10))

    def next_msg_id(self) -> str:
        return str(next(self._msg_ids))

    def verification(
        self, echostr: str = "echo-5829", *, timestamp: int | None = None
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = self._nonce()
        return {
            "signature": _signature(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": echostr,
        }

    def sign(self, inner_xml: str, *, openid: str, timestamp: int | None = None) -> SignedCallback:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = self._nonce()
        params = {
            "signature": _signature(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": openid,
        }
        if self._crypto is None:
            return SignedCallback(params, inner_xml.encode(), inner_xml)
        envelope = xmltodict.parse(self._crypto.encrypt_message(inner_xml, nonce, ts))["xml"]
        encrypted = envelope["Encrypt"]
        params.update(
            encrypt_type="aes", msg_signature=_signature(self.token, ts, nonce, encrypted)
        )
        body = (
            f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return SignedCallback(params, body.encode(), inner_xml)

    def _message(
        self,
        openid: str,
        msg_type: str,
        fields: str,
        create_time: int | None,
        msg_id: str | None,
        *,
        with_msg_id: bool = True,
    ) -> str:
        created = int(time.time()) if create_time is None else create_time
        msg_id_xml = f"<MsgId>{msg_id or self.next_msg_id()}</MsgId>" if with_msg_id else ""
        return (
            "<xml>"
            f"<ToUserName><![CDATA[{self.account}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>"
            f"{fields}{msg_id_xml}"
            "</xml>"
        )

    def text(
        self,
        openid: str,
        content: str,
        *,
        msg_id: str | None = None,
        create_time: int | None = None,
        timestamp: int | None = None,
    ) -> SignedCallback:
        xml = self._message(
            openid, "text", f"<Content><![CDATA[{content}]]></Content>", create_time, msg_id
        )
        return self.sign(xml, openid=openid, timestamp=timestamp)

    def image(
        self,
        openid: str,
        media_id: str,
        *,
        msg_id: str | None = None,
        create_time: int | None = None,
    ) -> SignedCallback:
        pic_url = f"http://mmbiz.qpic.cn/mmbiz_jpg/{escape(media_id)}/0"
        fields = f"<PicUrl><![CDATA[{pic_url}]]></PicUrl><MediaId><![CDATA[{media_id}]]></MediaId>"
        return self.sign(self._message(openid, "image", fields, create_time, msg_id), openid=openid)

    def voice(
        self,
        openid: str,
        media_id: str,
        *,
        audio_format: str = "amr",
        recognition: str | None = None,
        msg_id: str | None = None,
        create_time: int | None = None,
    ) -> SignedCallback:
        fields = (
            f"<MediaId><![CDATA[{media_id}]]></MediaId><Format><![CDATA[{audio_format}]]></Format>"
        )
        if recognition is not None:
            fields += f"<Recognition><![CDATA[{recognition}]]></Recognition>"
        return self.sign(self._message(openid, "voice", fields, create_time, msg_id), openid=openid)

    def file(
        self,
        openid: str,
        media_id: str,
        title: str,
        *,
        size: int = 0,
        msg_id: str | None = None,
        create_time: int | None = None,
    ) -> SignedCallback:
        fields = (
            f"<Title><![CDATA[{title}]]></Title>"
            f"<Description><![CDATA[{size} bytes]]></Description>"
            f"<FileKey><![CDATA[{secrets.token_hex(8)}]]></FileKey>"
            f"<FileMd5><![CDATA[{secrets.token_hex(16)}]]></FileMd5>"
            f"<FileTotalLen>{size}</FileTotalLen>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId>"
        )
        return self.sign(self._message(openid, "file", fields, create_time, msg_id), openid=openid)

    def event(
        self,
        openid: str,
        event: str,
        *,
        event_key: str | None = None,
        create_time: int | None = None,
    ) -> SignedCallback:
        """subscribe / unsubscribe / CLICK (with the menu's EventKey); events have no MsgId."""
        fields = f"<Event><![CDATA[{event}]]></Event>"
        if event_key is not None or event == "CLICK":
            fields += f"<EventKey><![CDATA[{event_key or ''}]]></EventKey>"
        xml = self._message(openid, "event", fields, create_time, None, with_msg_id=False)
        return self.sign(xml, openid=openid)

    def read_reply(self, body: bytes) -> dict[str, Any] | None:
        """The passive reply as WeChat reads it (None for "success"/empty). In safe mode
        the reply's own signature is checked before decrypting."""
        text = body.decode()
        if text in ("", "success"):
            return None
        document = xmltodict.parse(text)["xml"]
        if self._crypto is None:
            return dict(document)
        expected = _signature(
            self.token, document["TimeStamp"], document["Nonce"], document["Encrypt"]
        )
        assert expected == document["MsgSignature"], "passive reply signature is wrong"
        inner = self._crypto.decrypt_message(
            text, document["MsgSignature"], document["TimeStamp"], document["Nonce"]
        )
        return dict(xmltodict.parse(inner)["xml"])
