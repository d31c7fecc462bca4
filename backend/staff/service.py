from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.core.security import hash_password, verify_password
from backend.models import StaffUser

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


_DUMMY_HASH = hash_password("not-a-real-password")
