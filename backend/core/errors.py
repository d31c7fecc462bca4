"""One error shape for every refusal: {"error": {"code", "message", ...}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    def __init__(self, status_code: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.extra = extra


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        headers: dict[str, str] = {}
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        retry_after = exc.extra.get("retry_after_seconds")
        if isinstance(retry_after, int) and exc.status_code in (423, 429, 503):
            headers["Retry-After"] = str(retry_after)
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.extra), exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in err["loc"][1:]), "problem": err["msg"]}
            for err in exc.errors()
        ]
        names = ", ".join(f["field"] for f in fields) or "request"
        return JSONResponse(
            error_body(
                "validation_error", f"请检查这些字段 / invalid fields: {names}", fields=fields
            ),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            403: "forbidden",
            413: "too_large",
            415: "unsupported_media_type",
        }.get(exc.status_code, "http_error")
        # Keep the exception's headers: a 405 must still say what is Allowed.
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)
