from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from backend.domain.types import Actor, ClaimStatus, ClaimType
from backend.models.base import Base, utcnow
from backend.models.policy import Policy


def _enum(enum_cls: Any) -> Enum:
    return Enum(
        enum_cls, native_enum=False, length=30, values_callable=lambda e: [m.value for m in e]
    )


class ClaimNumberSequence(Base):
    """Last claim sequence handed out per reporting day (CLyyyymmddNNNN)."""

    __tablename__ = "claim_number_sequences"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class Claim(Base):
    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_number: Mapped[str] = mapped_column(String(14), unique=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), index=True)
    claim_type: Mapped[ClaimType] = mapped_column(_enum(ClaimType))
    status: Mapped[ClaimStatus] = mapped_column(_enum(ClaimStatus), index=True)
    incident_date: Mapped[date]
    location: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    claimed_amount: Mapped[Decimal | None]
    approved_amount: Mapped[Decimal | None]
    payout_amount: Mapped[Decimal | None]
    inpatient: Mapped[bool] = mapped_column(default=False)
    fast_track: Mapped[bool] = mapped_column(default=False)
    reported_by: Mapped[str] = mapped_column(String(200))  # conversation id or staff username
    # Same key from the same caller returns the same claim instead of a second one.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # SHA-256 of the report the key came with: the same key with other data is a conflict.
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Indexed with paid_on, decided_on, closed_at: the figures' periods (migration 0008).
    reported_on: Mapped[date] = mapped_column(index=True)
    documents_completed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    rejection_notified_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # Set when the claim is reopened: the time limits restart from this round.
    reopened_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    advance_payment_flagged_at: Mapped[datetime | None]
    # When the customer was last asked for documents (filing or an adjuster's request),
    # and how many reminders have gone out since: DOCUMENT_REMINDER_DAYS/_MAX.
    documents_requested_at: Mapped[datetime | None]
    document_reminders_sent: Mapped[int] = mapped_column(default=0)
    # The legal clocks of the current round as local dates (backend.core.clock keeps
    # them equal to deadline_status() whenever a milestone changes), so queues and
    # figures filter and order by deadline in SQL. A due date is NULL when its clock
    # does not apply; advance payment is due from advance_payment_from_on while
    # decided_on is NULL. next_due_on/next_due_clock: the earliest OPEN clock
    # ("decision" | "payment" | "rejection_notice"), NULL when none is open; a claim
    # is overdue when next_due_on < today.
    decision_due_on: Mapped[date | None]
    payment_due_on: Mapped[date | None]
    rejection_notice_due_on: Mapped[date | None]
    advance_payment_from_on: Mapped[date | None]
    decided_on: Mapped[date | None] = mapped_column(index=True)
    paid_on: Mapped[date | None] = mapped_column(index=True)
    rejection_notified_on: Mapped[date | None]
    next_due_on: Mapped[date | None]
    next_due_clock: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    policy: Mapped[Policy] = relationship(lazy="raise")
    checklist: Mapped[list[ChecklistEntry]] = relationship(
        back_populates="claim", lazy="raise", order_by="ChecklistEntry.position"
    )
    events: Mapped[list[ClaimEvent]] = relationship(
        back_populates="claim", lazy="raise", order_by="ClaimEvent.id"
    )
    risk_flags: Mapped[list[RiskFlagRecord]] = relationship(back_populates="claim", lazy="raise")

    __table_args__ = (
        Index("ix_claims_next_due_on_id", "next_due_on", "id"),
        # The adjusters' queue: one status (or a few), nearest deadline first.
        Index("ix_claims_queue", "status", "next_due_on", "reported_on", "id"),
    )


class ChecklistEntry(Base):
    """One required document of a claim, fixed when the claim is reported."""

    __tablename__ = "checklist_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(40))
    position: Mapped[int]
    received: Mapped[bool] = mapped_column(default=False)
    # When an adjuster asks again for an item, with the reason the customer is told.
    rerequested_reason: Mapped[str | None] = mapped_column(Text)

    claim: Mapped[Claim] = relationship(back_populates="checklist", lazy="raise")

    __table_args__ = (UniqueConstraint("claim_id", "code"),)


class ClaimEvent(Base):
    """Append-only audit trail: who, what, why, when. Never updated or deleted."""

    __tablename__ = "claim_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    actor: Mapped[Actor] = mapped_column(_enum(Actor))
    actor_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[ClaimStatus | None] = mapped_column(_enum(ClaimStatus))
    to_status: Mapped[ClaimStatus | None] = mapped_column(_enum(ClaimStatus))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="events", lazy="raise")


class AppendOnlyViolation(RuntimeError):
    pass


@event.listens_for(ClaimEvent, "before_update")
def _no_update(_mapper: Mapper[Any], _connection: Any, target: ClaimEvent) -> None:
    raise AppendOnlyViolation(f"claim event {target.id} is append-only and cannot be changed")


@event.listens_for(ClaimEvent, "before_delete")
def _no_delete(_mapper: Mapper[Any], _connection: Any, target: ClaimEvent) -> None:
    raise AppendOnlyViolation(f"claim event {target.id} is append-only and cannot be deleted")


class RiskFlagRecord(Base):
    __tablename__ = "risk_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    claim: Mapped[Claim] = relationship(back_populates="risk_flags", lazy="raise")

    __table_args__ = (UniqueConstraint("claim_id", "code"),)
