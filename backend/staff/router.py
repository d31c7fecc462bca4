from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from backend.core.deps import SessionDep, SettingsDep
from backend.core.errors import ApiError
from backend.core.openapi import error_responses
from backend.core.security import issue_staff_token
from backend.staff import service

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


def hashing_gate(request: Request, concurrency: int) -> asyncio.Semaphore:
    """argon2 costs tens of milliseconds of CPU and a worker thread: at most
    `concurrency` logins hash at once, the rest wait here without holding a thread."""
    gate = getattr(request.app.state, "login_gate", None)
    if gate is None:
        gate = asyncio.Semaphore(concurrency)
        request.app.state.login_gate = gate
    return gate


@router.post(
    "/login",
    responses=error_responses(401, 423, 429),
)
async def login(
    body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenOut:
    source = request.client.host if request.client else "unknown"
    gate = hashing_gate(request, settings.login_hash_concurrency)
    try:
        await asyncio.wait_for(gate.acquire(), timeout=settings.login_queue_seconds)
    except TimeoutError:
        raise ApiError(
            429, "busy", "登录繁忙，请稍后再试 / too many logins at once", retry_after_seconds=1
        ) from None

    def _login() -> TokenOut:
        try:
            user = service.login(session, settings, body.username, body.password, source)
        except ApiError:
            # The failed attempt must be kept (it counts towards the lock-out).
            session.commit()
            raise
        token, lifetime = issue_staff_token(settings, user)
        return TokenOut(access_token=token, expires_in=lifetime, role=user.role)

    try:
        return await run_in_threadpool(_login)
    finally:
        gate.release()
