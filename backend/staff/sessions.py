"""Console sign-ins: a server-side session named by a random token in an HttpOnly
cookie, with a CSRF token the page sends back on every state change.

A session ends at the first of: logout, STAFF_SESSION_HOURS after sign-in (a working
day), STAFF_SESSION_IDLE_MINUTES without a request that counts as activity, the staff
user being disabled or deleted. Only the token's SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.models import StaffSession, StaffUser

COOKIE = "claims_staff"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# last_seen_at is written at most this often, so a busy page does not write on every read.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class SignedIn:
    username: str
    role: str
    display_name: str
    csrf_token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, settings: Settings, user: StaffUser, now: datetime) -> tuple[str, str]:
    """A new session for `user`: returns (cookie token, CSRF token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_hash(token),
            username=user.username,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.staff_session_hours),
        )
    )
    session.flush()
    return token, csrf


def resume(
    session: Session, settings: Settings, token: str | None, now: datetime, *, activity: bool
) -> SignedIn | None:
    """The signed-in staff user of a cookie, or None (unknown, expired, idle, disabled).
    A dead session is deleted. `activity` False (a live page refreshing itself) does
    not keep the session from idling out."""
    if not token:
        return None
    row = session.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.username == StaffSession.username)
        .where(StaffSession.token_hash == _hash(token))
    ).one_or_none()
    if row is None:
        return None
    stored, user = row
    idle = timedelta(minutes=settings.staff_session_idle_minutes)
    if not user.active or now >= stored.expires_at or now - stored.last_seen_at >= idle:
        session.delete(stored)
        session.flush()
        return None
    if activity and now - stored.last_seen_at >= TOUCH_EVERY:
        stored.last_seen_at = now
        session.flush()
    return SignedIn(user.username, user.role, user.display_name, stored.csrf_token)


def csrf_ok(signed_in: SignedIn, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), signed_in.csrf_token.encode())


def end(session: Session, token: str | None) -> str | None:
    """Log out: delete the session. Returns the username, or None when the cookie named
    no session. (The console's logout also puts the agent's conversations back in the
    queue, through the handoff lifecycle.)"""
    if not token:
        return None
    stored = session.scalars(
        select(StaffSession).where(StaffSession.token_hash == _hash(token))
    ).one_or_none()
    if stored is None:
        return None
    session.delete(stored)
    session.flush()
    return stored.username


def end_all_expired(session: Session, settings: Settings, now: datetime) -> int:
    """Delete sessions past their end (called at sign-in, so the table stays small)."""
    idle = timedelta(minutes=settings.staff_session_idle_minutes)
    result = session.execute(
        delete(StaffSession)
        .where((StaffSession.expires_at <= now) | (StaffSession.last_seen_at <= now - idle))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def cookie_attributes(settings: Settings) -> dict[str, object]:
    """Arguments of `Response.set_cookie` besides key and value. Path / so the JSON API
    (and its event stream, which EventSource opens with cookies only) accepts it too."""
    return {
        "max_age": int(settings.staff_session_hours * 3600),
        "httponly": True,
        "samesite": "strict",
        "secure": settings.public_base_url.startswith("https://"),
        "path": "/",
    }


def utcnow() -> datetime:
    return datetime.now(UTC)
