"""Annotated dependency aliases used by the routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from backend.core.settings import Settings
from backend.core.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.claims
    return state


def get_settings_dep(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on error."""
    session = state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_redis(state: Annotated[AppState, Depends(get_state)]) -> Any | None:
    return state.redis


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
RedisDep = Annotated[Any | None, Depends(get_redis)]
# A row id in a path: a database integer key (SQLite and PostgreSQL both stop at 2^63-1),
# so a larger or non-positive number is a clear 422, never a driver overflow.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
