from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class OutboxMessage(Base):
    """One notice to a customer, written in the same transaction as the change it
    announces (`kind` and `payload` describe that change) and delivered later by the
    notifications worker, which records here how it went.

    status: pending (due at next_attempt_at) -> sending (a worker holds it until
    lease_until) -> sent (accepted by the platform) -> delivered (the platform
    confirmed it) | failed (refused for good, or out of attempts; last_error says why)
    | suppressed (the customer stopped proactive notices).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    claim_number: Mapped[str | None] = mapped_column(String(14))
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Where it went: the conversation, the route and the platform's message id.
    conversation_id: Mapped[str | None] = mapped_column(String(200))
    route: Mapped[str | None] = mapped_column(String(30))
    platform_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # figures' periods
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class WorkerHeartbeat(Base):
    """Each running worker reports here; /health reads the newest report."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduledJob(Base):
    """A time-based job (document reminders, ...): whichever worker moves `next_run_at`
    forward first runs it, so it runs once across replicas."""

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[datetime | None]
