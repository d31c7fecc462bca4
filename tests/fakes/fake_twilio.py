"""A fake Twilio REST API on 127.0.0.1, and webhooks signed as Twilio signs them.

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json
        form-encoded To, From, Body, StatusCallback; HTTP Basic auth (AccountSid, AuthToken);
        201 with a message resource (sid SM..., status "queued"), recorded in `messages`.

Failure modes: `delay()`, `fail_http()` (5xx), `opt_out(number)` (400, code 21610, as
Twilio answers for a number that texted STOP). A body over 1600 characters is refused
with 21617, as Twilio does.

`TwilioWebhooks` builds inbound-SMS and status-callback form posts with the
X-Twilio-Signature that Twilio computes over the public URL it calls.
"""

from __future__ import annotations

import base64
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from twilio.request_validator import RequestValidator

from tests.fakes.http import FakeRequest, FakeResponse, LoopbackFake, LoopbackServer

API_VERSION = "2010-04-01"
_GSM_CHARS = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def _error(status: int, code: int, message: str) -> FakeResponse:
    return FakeResponse.json(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


def _rough_segments(body: str) -> int:
    # The fake's own rough count (no escape/surrogate packing), independent of the app's.
    single, part = (160, 153) if all(c in _GSM_CHARS for c in body) else (70, 67)
    return 1 if len(body) <= single else math.ceil(len(body) / part)


@dataclass
class FakeTwilio(LoopbackFake):
    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    messages: list[dict[str, Any]] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    requests: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._delay = 0.0
        self._http_failures: list[list[int]] = []  # [status, remaining]
        self._server = LoopbackServer(self._handle)

    # -- test controls --------------------------------------------------------------

    def delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = seconds

    def fail_http(self, status: int = 500, times: int = 1) -> None:
        with self._lock:
            self._http_failures.append([status, times])

    def opt_out(self, number: str) -> None:
        """The number texted STOP: sends to it fail with 21610."""
        with self._lock:
            self.opted_out.add(number)

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        with self._lock:
            self._lock.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            return list(self.messages)

    # -- server ---------------------------------------------------------------------

    def _handle(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            self.requests += 1
            delay = self._delay
        if delay:
            time.sleep(delay)
        with self._lock:
            for failure in self._http_failures:
                if failure[1] > 0:
                    failure[1] -= 1
                    return _error(failure[0], 20500, "An internal server error has occurred")
            prefix = f"/{API_VERSION}/Accounts/"
            if not (request.path.startswith(prefix) and request.path.endswith("/Messages.json")):
                return _error(404, 20404, f"The requested resource {request.path} was not found")
            account = request.path[len(prefix) : -len("/Messages.json")]
            if not self._authenticated(request, account):
                return _error(401, 20003, "Authenticate")
            if request.method != "POST":
                return _error(405, 20004, "Method not allowed")
            return self._create_message(request, account)

    def _authenticated(self, request: FakeRequest, account: str) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            username, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return username == self.account_sid == account and secrets.compare_digest(
            password, self.auth_token
        )

    def _create_message(self, request: FakeRequest, account: str) -> FakeResponse:
        form = {key: values[0] for key, values in request.form().items()}
        to, sender, body = form.get("To"), form.get("From"), form.get("Body", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not sender and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return _error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if to in self.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        resource = {
            "account_sid": account,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(_rough_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{account}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/{API_VERSION}/Accounts/{account}/Messages/{sid}.json",
        }
        self.messages.append({**resource, "status_callback": form.get("StatusCallback")})
        self._lock.notify_all()
        return FakeResponse.json(resource, status=201)


# -- webhooks as Twilio sends them ---------------------------------------------------


@dataclass(frozen=True)
class SignedForm:
    path: str  # path on the app (the public URL is public_base_url + path)
    form: dict[str, str]
    headers: dict[str, str]


class TwilioWebhooks:
    def __init__(self, *, auth_token: str, public_base_url: str, account_sid: str) -> None:
        self._validator = RequestValidator(auth_token)
        self.public_base_url = public_base_url.rstrip("/")
        self.account_sid = account_sid

    def sign(self, path: str, form: dict[str, str]) -> SignedForm:
        signature = self._validator.compute_signature(self.public_base_url + path, form)
        return SignedForm(
            path,
            form,
            {
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1",
                "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            },
        )

    def inbound_sms(
        self,
        *,
        from_: str,
        to: str,
        body: str,
        message_sid: str | None = None,
        extra: dict[str, str] | None = None,
        path: str = "/channels/twilio/sms",
    ) -> SignedForm:
        sid = message_sid or "SM" + secrets.token_hex(16)
        form = {
            "ToCountry": "US",
            "ToState": "CA",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "",
            "To": to,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
            **(extra or {}),
        }
        return self.sign(path, form)

    def status_callback(
        self,
        *,
        message_sid: str,
        status: str,
        to: str,
        from_: str,
        error_code: str | None = None,
        path: str = "/channels/twilio/status",
    ) -> SignedForm:
        form = {
            "SmsSid": message_sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": to,
            "MessageSid": message_sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }
        if error_code:
            form["ErrorCode"] = error_code
        return self.sign(path, form)
