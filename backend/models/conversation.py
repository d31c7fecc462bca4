from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class VerificationAttempt(Base):
    """Identity checks, counted per conversation and per policy for the lock-outs."""

    __tablename__ = "verification_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    # The policy number tried (as given, upper-cased), so guesses spread over many
    # conversations still count against that policy.
    policy_number: Mapped[str | None] = mapped_column(String(20), index=True)
    succeeded: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # wechat:<openid> ...
    channel: Mapped[str] = mapped_column(String(20))
    # 'bot' normally; 'handoff' while a person has it.
    mode: Mapped[str] = mapped_column(String(20), default="bot")
    # Unsubscribed (WeChat) or STOP / 21610 (SMS): nothing may be sent here.
    opted_out: Mapped[bool] = mapped_column(default=False)
    last_inbound_at: Mapped[datetime | None]
    # The customer's own last message or menu click (not platform events): WeChat's
    # 48-hour customer-service window runs from here.
    last_customer_message_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranscriptMessage(Base):
    __tablename__ = "transcript_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    sender: Mapped[str] = mapped_column(String(20))  # customer | bot | agent | system
    channel: Mapped[str] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[str | None] = mapped_column(String(40))
    platform_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(20))
    # Said to the customer outside a bot turn (a notice, an agent) and not yet appended
    # to the bot's tracker: that happens just before the customer's next turn.
    bot_pending: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # figures' periods

    # A platform's replay of a message already stored is refused by the database too.
    __table_args__ = (
        UniqueConstraint("channel", "direction", "platform_message_id"),
        Index("ix_transcript_bot_pending", "conversation_id", "bot_pending"),
    )


class InboundTurn(Base):
    """A customer message kept until its turn is answered: an SMS (Twilio has had its 200
    and will not send it again), a web chat message (the browser has had its 202), a
    WeChat message the bot answers. Written in the transaction that stores the message
    in the transcript; a replica killed before answering leaves it here, and a
    notifications worker answers it once its claim has run out
    (backend/conversations/inbox.py)."""

    __tablename__ = "inbound_turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The message's transcript row; its unique (channel, direction, platform message id)
    # makes a second acceptance of the same message fail.
    transcript_message_id: Mapped[int] = mapped_column(
        ForeignKey("transcript_messages.id"), unique=True
    )
    conversation_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    # The message as accepted (`InboundMessage.to_dict()`, without the platform's form).
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    # It brought an opted-out conversation back (SMS START): the bot greets.
    rejoined: Mapped[bool] = mapped_column(default=False, server_default=false())
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A replica is answering it until then; after that another may take it.
    claimed_until: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    answered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_inbound_turns_unanswered", "answered_at", "claimed_until"),)


class Handoff(Base):
    """A conversation handed to a person: open (waiting) -> active (an agent has it)
    -> closed (handed back). `callback`: nobody accepted in time or it came outside
    service hours; the customer was told someone will get back to them and the bot has
    the conversation meanwhile."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    agent_username: Mapped[str | None] = mapped_column(String(60))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # figures' periods
    accepted_at: Mapped[datetime | None]
    callback: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The agent's last message (the idle limit runs from here, or from accepted_at).
    last_agent_message_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(60))


class HandoffStep(Base):
    """Who did what to a handoff, and when: opened, accepted, transferred, released
    (idle or logout), callback, note, closed, left (the customer left the queue)."""

    __tablename__ = "handoff_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(60))
    # A note's text (private to staff), a transfer's target, a close note.
    text: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), index=True)
    policyholder_id: Mapped[int | None] = mapped_column(ForeignKey("policyholders.id"))
    claim_number: Mapped[str | None] = mapped_column(String(14))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # One rating per claim: the survey is asked once, and answered once.
    __table_args__ = (UniqueConstraint("claim_number"),)
