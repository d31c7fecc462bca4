"""The refusals each route really gives, in the OpenAPI: one error shape everywhere
({"error": {"code", "message", ...}}), so clients and the schemathesis run can check
every answer against the schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


_DESCRIPTIONS = {
    400: "`bad_request`: not a message of this platform",
    401: "`unauthorized`: no, a wrong or an expired credential (WWW-Authenticate: Bearer)",
    403: "`forbidden`, `not_verified`: the caller may not do this (or a bad platform signature)",
    404: "`not_found`: no such resource, or not the caller's",
    405: "`method_not_allowed` (Allow lists the methods)",
    409: "a conflict with the resource's current state",
    413: "`too_large`: the body is over the limit",
    415: "`unsupported_media_type`: not the body this route takes",
    422: "`validation_error` and other refusals of the request's content",
    423: "`locked`: too many failed attempts (Retry-After)",
    429: "`too_many_attempts`, `busy`: slow down (Retry-After)",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut, "description": _DESCRIPTIONS[code]} for code in codes}


# What every authenticated JSON route may answer besides its own successes.
API_ERRORS = error_responses(401, 403, 404, 405, 413, 422)
WEBHOOK_ERRORS = error_responses(400, 403, 404, 405, 413, 415, 422)
