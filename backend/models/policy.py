from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.domain.types import ClaimType
from backend.models.base import Base, utcnow


class Policyholder(Base):
    __tablename__ = "policyholders"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Only the last four digits of the national id are ever stored.
    id_last4: Mapped[str] = mapped_column(String(4))
    phone: Mapped[str] = mapped_column(String(20), index=True)  # E.164
    preferred_language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    # Where proactive notices go (NoticeChannel): "auto" follows where they last wrote.
    notice_channel: Mapped[str] = mapped_column(String(10), default="auto")
    # The customer asked for no proactive notices (they can still ask in the chat).
    notices_paused: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    policies: Mapped[list[Policy]] = relationship(back_populates="policyholder", lazy="raise")
    identities: Mapped[list[ChannelIdentity]] = relationship(
        back_populates="policyholder", lazy="raise"
    )

    __table_args__ = (
        CheckConstraint("length(id_last4) = 4", name="id_last4_len"),
        CheckConstraint("phone LIKE '+%'", name="phone_e164"),
    )


class ChannelIdentity(Base):
    """A conversation (`wechat:<openid>`, `sms:<phone>`, `web:<id>`) bound to a person
    after they proved who they are."""

    __tablename__ = "channel_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id"), index=True)
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)

    policyholder: Mapped[Policyholder] = relationship(back_populates="identities", lazy="raise")


class Policy(Base):
    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_number: Mapped[str] = mapped_column(String(20), unique=True)
    policyholder_id: Mapped[int] = mapped_column(ForeignKey("policyholders.id"), index=True)
    start_date: Mapped[date]
    end_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    policyholder: Mapped[Policyholder] = relationship(back_populates="policies", lazy="raise")
    coverages: Mapped[list[Coverage]] = relationship(back_populates="policy", lazy="raise")

    __table_args__ = (CheckConstraint("end_date >= start_date", name="period"),)


class Coverage(Base):
    __tablename__ = "coverages"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"))
    claim_type: Mapped[ClaimType] = mapped_column(
        Enum(
            ClaimType, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
        )
    )
    limit: Mapped[Decimal]
    deductible: Mapped[Decimal]
    ratio: Mapped[Decimal] = mapped_column(default=Decimal("1.00"))

    policy: Mapped[Policy] = relationship(back_populates="coverages", lazy="raise")

    __table_args__ = (
        UniqueConstraint("policy_id", "claim_type"),
        CheckConstraint('"limit" > 0', name="limit_positive"),
        CheckConstraint("deductible >= 0", name="deductible_nonneg"),
        CheckConstraint("ratio > 0 AND ratio <= 1", name="ratio_range"),
    )
