"""Who is calling: the bot (service token, acting for the policyholder bound to one
conversation), staff (short-lived JWT with a role, or the console's session cookie with
its CSRF token), or nobody (401)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.db import transaction
from backend.core.deps import StateDep
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.identities.service import binding_expired
from backend.models import ChannelIdentity, StaffUser
from backend.staff import sessions as staff_sessions

_hasher = PasswordHasher()
StaffRole = Literal["adjuster", "agent", "admin"]
CONVERSATION_PREFIXES = ("wechat:", "sms:", "web:")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_staff_token(settings: Settings, user: StaffUser) -> tuple[str, int]:
    assert settings.jwt_secret is not None
    lifetime = settings.staff_token_minutes * 60
    now = datetime.now(UTC)
    claims = {
        "sub": user.username,
        "role": user.role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), "HS256"), lifetime


@dataclass(frozen=True)
class BotCaller:
    conversation_id: str
    policyholder_id: int | None  # None until the person proved who they are

    @property
    def actor_id(self) -> str:
        return self.conversation_id


@dataclass(frozen=True)
class StaffCaller:
    username: str
    role: StaffRole

    @property
    def actor_id(self) -> str:
        return self.username


Caller = BotCaller | StaffCaller


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ApiError(401, "unauthorized", "缺少凭证 / missing bearer credentials")
    return authorization[7:].strip()


def valid_conversation_id(value: str) -> bool:
    return value.startswith(CONVERSATION_PREFIXES) and 4 < len(value) <= 200


def _session_caller(request: Request, settings: Settings, session: Session) -> StaffCaller:
    """Staff signed in to the console: the session cookie, and on every state change
    the session's CSRF token in X-CSRF-Token (another site's page can make the browser
    send the cookie, never read the token)."""
    signed_in = staff_sessions.resume(
        session,
        settings,
        request.cookies.get(staff_sessions.COOKIE),
        datetime.now(UTC),
        activity=request.headers.get("X-Console-Refresh") != "1",
    )
    if signed_in is None:
        raise ApiError(
            401, "unauthorized", "登录已过期，请重新登录 / session expired, sign in again"
        )
    if request.method not in staff_sessions.SAFE_METHODS and not staff_sessions.csrf_ok(
        signed_in, request.headers.get(staff_sessions.CSRF_HEADER)
    ):
        raise ApiError(403, "csrf", "页面已过期，请刷新后重试 / missing or wrong CSRF token")
    role: StaffRole = signed_in.role  # type: ignore[assignment]
    return StaffCaller(signed_in.username, role)


def authenticate(
    request: Request,
    state: StateDep,
    authorization: Annotated[str | None, Header()] = None,
    x_conversation_id: Annotated[str | None, Header()] = None,
) -> Caller:
    """Who calls, looked up in a short transaction of its own: a long response (an
    event stream) must not hold the request's database session open for its whole
    life (on SQLite that would be the write lock)."""
    # Only a staff session cookie writes (its last activity); a token is only read, so
    # on SQLite the bot's calls take no write lock to be identified.
    reads_only = authorization is not None or staff_sessions.COOKIE not in request.cookies
    with transaction(state.session_factory, read_only=reads_only) as session:
        return _identify(request, state.settings, session, authorization, x_conversation_id)


def _identify(
    request: Request,
    settings: Settings,
    session: Session,
    authorization: str | None,
    x_conversation_id: str | None,
) -> Caller:
    if authorization is None and staff_sessions.COOKIE in request.cookies:
        return _session_caller(request, settings, session)
    token = _bearer(authorization)
    assert settings.bot_service_token is not None and settings.jwt_secret is not None
    if hmac.compare_digest(token.encode(), settings.bot_service_token.get_secret_value().encode()):
        if not x_conversation_id or not valid_conversation_id(x_conversation_id):
            raise ApiError(
                401,
                "unauthorized",
                "bot calls need X-Conversation-Id (wechat:/sms:/web:)",
            )
        identity = session.scalars(
            select(ChannelIdentity).where(ChannelIdentity.conversation_id == x_conversation_id)
        ).one_or_none()
        if identity is None or binding_expired(settings, identity, datetime.now(UTC)):
            return BotCaller(x_conversation_id, None)
        return BotCaller(x_conversation_id, identity.policyholder_id)
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=["HS256"],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise ApiError(401, "unauthorized", "凭证无效或已过期 / invalid or expired token") from exc
    user = session.scalars(
        select(StaffUser).where(StaffUser.username == claims.get("sub"), StaffUser.active)
    ).one_or_none()
    if user is None or user.role != claims.get("role"):
        raise ApiError(401, "unauthorized", "凭证无效 / unknown or disabled staff user")
    role: StaffRole = user.role  # type: ignore[assignment]
    return StaffCaller(user.username, role)


CallerDep = Annotated[Caller, Depends(authenticate)]


def require_staff(*roles: StaffRole):  # type: ignore[no-untyped-def]
    allowed = set(roles) | {"admin"}

    def _dep(caller: CallerDep) -> StaffCaller:
        if not isinstance(caller, StaffCaller):
            raise ApiError(403, "forbidden", "仅限工作人员 / staff only")
        if roles and caller.role not in allowed:
            raise ApiError(403, "forbidden", f"需要角色 / needs role: {', '.join(sorted(allowed))}")
        return caller

    return _dep


def require_bot(caller: CallerDep) -> BotCaller:
    if not isinstance(caller, BotCaller):
        raise ApiError(403, "forbidden", "this route is for the bot's action server")
    return caller


def require_verified_bot(caller: Annotated[BotCaller, Depends(require_bot)]) -> BotCaller:
    if caller.policyholder_id is None:
        raise ApiError(403, "not_verified", "请先完成身份验证 / verify identity first")
    return caller


BotDep = Annotated[BotCaller, Depends(require_bot)]
VerifiedBotDep = Annotated[BotCaller, Depends(require_verified_bot)]
AnyStaffDep = Annotated[StaffCaller, Depends(require_staff())]
AdjusterDep = Annotated[StaffCaller, Depends(require_staff("adjuster"))]
AgentDep = Annotated[StaffCaller, Depends(require_staff("agent"))]
