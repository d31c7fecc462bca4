"""A cap on every request body, enforced while it arrives.

FastAPI parses a multipart form (spooling its files to disk) before any dependency runs,
so without this an unauthenticated caller could make the app write bodies of any size
to disk before being told 401. The cap is the document limit plus room for the form's
framing; the document routes still apply the exact document limit themselves.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.errors import error_body
from backend.core.settings import Settings

# Multipart boundaries, part headers and the small form fields around one file.
FORM_OVERHEAD_BYTES = 64 * 1024


class BodySizeLimit:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    @property
    def max_bytes(self) -> int:
        return self.settings.max_document_bytes + FORM_OVERHEAD_BYTES

    def _reject(self) -> JSONResponse:
        limit_mb = self.settings.max_document_bytes / (1024 * 1024)
        return JSONResponse(
            error_body(
                "too_large",
                f"请求过大，单个文件不超过 {limit_mb:g} MB / request body too large: "
                f"the limit is {self.max_bytes} bytes",
                max_bytes=self.max_bytes,
            ),
            413,
            headers={"Connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject()(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # Stop reading: to the app the client has gone away, so it parses
                    # and stores nothing more; the client is told 413 below.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to a cut-off body is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._reject()(scope, receive, send)
