"""Send SMS through Twilio's REST API.

Choice: the twilio library's own async path (`messages.create_async`) with a small
`AsyncHttpClient` adapter over our httpx client, and `client.api.base_url` set to
TWILIO_API_BASE_URL. The library builds exactly the production request (URL, form
fields, StatusCallback, Basic auth) and turns Twilio's error JSON into
`TwilioRestException` with its code, so we do not re-implement the protocol; httpx gives
one HTTP stack with our timeouts and no thread per send (twilio's default client is
synchronous requests, and its async client would add a second stack, aiohttp).

Sending is not idempotent: a 5xx or a timeout may still have sent the SMS, so nothing
here retries; `SmsTransportError.request_sent` tells the caller when a resend is safe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from pydantic import SecretStr
from twilio.base.exceptions import TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.redact import mask_phone
from channels.twilio.segments import SegmentCount, count_segments

logger = logging.getLogger(__name__)

ERROR_OPTED_OUT = 21610


class SmsError(Exception):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SmsOptedOutError(SmsError):
    """21610: the number texted STOP; Twilio refuses everything to it until START."""


class SmsRejectedError(SmsError):
    """Twilio refused the message (4xx): bad number, unverified sender, ..."""


class SmsTransportError(SmsError):
    """No clear answer from Twilio (timeout, connection error, 5xx)."""

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent


@dataclass(frozen=True)
class SmsReceipt:
    sid: str
    status: str
    segments: SegmentCount


class HttpxTwilioHttpClient(AsyncHttpClient):
    """twilio's async HTTP client interface, served by an httpx.AsyncClient."""

    def __init__(self, http: httpx.AsyncClient, *, timeout: float) -> None:
        super().__init__(logger, True, timeout)
        self._http = http

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        response = await self._http.request(
            method,
            uri,
            params={key: str(value) for key, value in (params or {}).items()} or None,
            data=data or None,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        return Response(response.status_code, response.text, response.headers)


class SmsSender:
    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: SecretStr,
        from_number: str,
        api_base_url: str,
        status_callback_url: str | None,
        http: httpx.AsyncClient,
        timeout_seconds: float = 15.0,
    ) -> None:
        self._from = from_number
        self._status_callback_url = status_callback_url
        # environment={}: TWILIO_REGION/TWILIO_EDGE from the process environment would
        # rewrite the API host behind our back.
        self._client = Client(
            account_sid,
            auth_token.get_secret_value(),
            http_client=HttpxTwilioHttpClient(http, timeout=timeout_seconds),
            environment={},
        )
        self._client.api.base_url = api_base_url.rstrip("/")

    async def send(self, to: str, body: str) -> SmsReceipt:
        segments = count_segments(body)
        messages = self._client.api.v2010.account.messages
        try:
            message = await messages.create_async(
                to=to,
                from_=self._from,
                body=body,
                status_callback=self._status_callback_url or None,
            )
        except TwilioRestException as exc:
            logger.warning(
                "sms: Twilio refused a message to %s: HTTP %s code %s",
                mask_phone(to),
                exc.status,
                exc.code,
            )
            if exc.code == ERROR_OPTED_OUT:
                raise SmsOptedOutError(
                    f"{mask_phone(to)} has opted out (21610)", code=ERROR_OPTED_OUT
                ) from None
            if exc.status >= 500:
                raise SmsTransportError(f"Twilio HTTP {exc.status}", request_sent=True) from None
            code = exc.code if isinstance(exc.code, int) else None
            raise SmsRejectedError(f"Twilio refused: {exc.msg}", code=code) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise SmsTransportError(type(exc).__name__, request_sent=False) from None
        except httpx.HTTPError as exc:
            raise SmsTransportError(type(exc).__name__, request_sent=True) from None
        sid = str(message.sid)
        logger.info(
            "sms: %s to %s queued: %d segment(s), %s, %d chars",
            sid,
            mask_phone(to),
            segments.segments,
            segments.encoding,
            len(body),
        )
        return SmsReceipt(sid=sid, status=str(message.status), segments=segments)
