"""What the app makes at start-up and shares across requests (see main.lifespan)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.core.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    redis: Any | None = None  # redis.asyncio.Redis when REDIS_URL is set
    extras: dict[str, Any] = field(default_factory=dict)
