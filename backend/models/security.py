from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class LoginAttempt(Base):
    """Staff logins, for locking an account or a source after repeated failures."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), index=True)
    source: Mapped[str] = mapped_column(String(64), index=True)  # client address
    succeeded: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuditEvent(Base):
    """Who looked at or was refused what, when: document views, lock-outs. Append-only."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[str] = mapped_column(String(200))  # staff username or conversation id
    action: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)  # document id, policy number
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PaymentCallback(Base):
    """Each payment outcome is applied once: a repeated or replayed callback with the
    same reference and status changes nothing."""

    __tablename__ = "payment_callbacks"
    __table_args__ = (UniqueConstraint("reference", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(40))
    claim_number: Mapped[str] = mapped_column(String(14))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
