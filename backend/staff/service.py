from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend.audit import service as audit
from backend.core.errors import ApiError
from backend.core.security import hash_password, verify_password
from backend.core.settings import Settings
from backend.models import LoginAttempt, StaffUser

logger = logging.getLogger(__name__)

ROLES = ("adjuster", "agent", "admin")


def upsert_staff(
    session: Session, username: str, password: str, role: str, display_name: str
) -> StaffUser:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("a staff password needs at least 10 characters")
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none()
    if user is None:
        user = StaffUser(username=username, display_name=display_name, password_hash="", role=role)
        session.add(user)
    user.password_hash = hash_password(password)
    user.role = role
    user.display_name = display_name
    session.flush()
    return user


def authenticate_staff(session: Session, username: str, password: str) -> StaffUser | None:
    user = session.scalars(
        select(StaffUser).where(StaffUser.username == username, StaffUser.active)
    ).one_or_none()
    if user is None:
        verify_password(_DUMMY_HASH, password)  # same cost whether or not the user exists
        return None
    return user if verify_password(user.password_hash, password) else None


def _seconds_locked(
    session: Session, column: InstrumentedAttribute[str], value: str, needed: int, window: timedelta
) -> int:
    """Seconds until fewer than `needed` failures remain within `window`, or 0."""
    now = datetime.now(UTC)
    failures = session.scalars(
        select(LoginAttempt.created_at)
        .where(
            column == value,
            LoginAttempt.created_at >= now - window,
            LoginAttempt.succeeded.is_(False),
        )
        .order_by(LoginAttempt.created_at.desc())
        .limit(needed)
    ).all()
    if len(failures) < needed:
        return 0
    return max(1, int((failures[needed - 1] + window - now).total_seconds()) + 1)


def login(
    session: Session, settings: Settings, username: str, password: str, source: str
) -> StaffUser:
    """Check the password, unless the account or the source is locked out after
    repeated failures (then refuse before hashing anything, even the right password).
    Every attempt is recorded; the caller commits it even when this raises."""
    window = timedelta(minutes=settings.login_window_minutes)
    source_wait = _seconds_locked(
        session, LoginAttempt.source, source, settings.login_max_failures_per_source, window
    )
    if source_wait:
        raise ApiError(
            429,
            "too_many_attempts",
            "登录失败次数过多，请稍后再试 / too many failed logins from here, try later",
            retry_after_seconds=source_wait,
        )
    account_wait = _seconds_locked(
        session, LoginAttempt.username, username, settings.login_max_failures_per_account, window
    )
    if account_wait:
        raise ApiError(
            423,
            "locked",
            "账号已暂时锁定，请稍后再试 / account temporarily locked, try later",
            retry_after_seconds=account_wait,
        )
    user = authenticate_staff(session, username, password)
    session.add(LoginAttempt(username=username, source=source, succeeded=user is not None))
    session.flush()
    if user is not None:
        return user
    account_wait = _seconds_locked(
        session, LoginAttempt.username, username, settings.login_max_failures_per_account, window
    )
    if account_wait:
        logger.warning("staff login locked for %s after repeated failures", username)
        audit.record(session, source, audit.LOGIN_LOCKED, username, locked_seconds=account_wait)
    raise ApiError(401, "unauthorized", "用户名或密码错误 / wrong username or password")


_DUMMY_HASH = hash_password("not-a-real-password")
