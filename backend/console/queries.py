"""What the console's pages show, read in a few queries (no N+1): the queue, one
handoff's transcript, the customer's claims, the agents to transfer to.

Reads only; every change goes through the agent API (`/api/v1/handoffs/...`), so the
console and any other tool change handoffs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from backend.core import clock
from backend.core.settings import Settings
from backend.identities.service import binding_expired
from backend.models import (
    ChannelIdentity,
    Claim,
    Conversation,
    Handoff,
    HandoffStep,
    Policy,
    Policyholder,
    StaffUser,
    TranscriptMessage,
)

TRANSCRIPT_LINES = 300
CLOSED_SHOWN = 20


@dataclass(frozen=True)
class Line:
    id: int
    sender: str  # customer | bot | agent | system
    text: str
    at: datetime
    delivery_status: str | None
    error_code: str | None


@dataclass(frozen=True)
class QueueItem:
    id: int
    conversation_id: str
    channel: str
    reason: str
    status: str
    callback: bool
    opened_at: datetime
    agent: str | None
    customer: str | None
    last: Line | None


@dataclass(frozen=True)
class ClaimCard:
    claim_number: str
    claim_type: str
    status: str
    claimed_amount: str | None
    missing: list[str]
    next_deadline: tuple[str, date] | None
    overdue: bool


@dataclass
class HandoffView:
    item: QueueItem
    lines: list[Line] = field(default_factory=list)
    claims: list[ClaimCard] = field(default_factory=list)


def _line(row: TranscriptMessage) -> Line:
    text = row.text or ("[附件]" if row.document_id else "")
    return Line(row.id, row.sender, text, row.created_at, row.delivery_status, row.error_code)


def _customers(
    session: Session, settings: Settings, conversation_ids: set[str], now: datetime
) -> dict[str, tuple[str, int]]:
    """conversation id -> (name, policyholder id), only while the binding holds."""
    if not conversation_ids:
        return {}
    rows = session.execute(
        select(ChannelIdentity, Policyholder.name)
        .join(Policyholder, Policyholder.id == ChannelIdentity.policyholder_id)
        .where(ChannelIdentity.conversation_id.in_(conversation_ids))
    ).all()
    return {
        identity.conversation_id: (name, identity.policyholder_id)
        for identity, name in rows
        if not binding_expired(settings, identity, now)
    }


def _last_lines(session: Session, conversation_ids: set[str]) -> dict[str, Line]:
    if not conversation_ids:
        return {}
    latest = (
        select(func.max(TranscriptMessage.id))
        .where(TranscriptMessage.conversation_id.in_(conversation_ids))
        .group_by(TranscriptMessage.conversation_id)
    )
    rows = session.scalars(select(TranscriptMessage).where(TranscriptMessage.id.in_(latest)))
    return {row.conversation_id: _line(row) for row in rows}


def _items(
    session: Session, settings: Settings, handoffs: list[tuple[Handoff, str]], now: datetime
) -> list[QueueItem]:
    ids = {h.conversation_id for h, _ in handoffs}
    customers = _customers(session, settings, ids, now)
    last = _last_lines(session, ids)
    return [
        QueueItem(
            id=h.id,
            conversation_id=h.conversation_id,
            channel=channel,
            reason=h.reason,
            status=h.status,
            callback=h.callback,
            opened_at=h.opened_at,
            agent=h.agent_username,
            customer=customers[h.conversation_id][0] if h.conversation_id in customers else None,
            last=last.get(h.conversation_id),
        )
        for h, channel in handoffs
    ]


def queue(session: Session, settings: Settings, now: datetime) -> list[QueueItem]:
    """Open handoffs oldest first (the longest wait on top), then active ones."""
    rows = session.execute(
        select(Handoff, Conversation.channel)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Handoff.status.in_(("open", "active")))
        .order_by(Handoff.status.desc(), Handoff.opened_at, Handoff.id)
    ).all()
    return _items(session, settings, [(h, c) for h, c in rows], now)


def recently_closed(session: Session, settings: Settings, now: datetime) -> list[QueueItem]:
    rows = session.execute(
        select(Handoff, Conversation.channel)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Handoff.status == "closed")
        .order_by(Handoff.closed_at.desc(), Handoff.id.desc())
        .limit(CLOSED_SHOWN)
    ).all()
    return _items(session, settings, [(h, c) for h, c in rows], now)


def handoff(
    session: Session, settings: Settings, handoff_id: int, now: datetime
) -> HandoffView | None:
    row = session.execute(
        select(Handoff, Conversation.channel)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Handoff.id == handoff_id)
    ).one_or_none()
    if row is None:
        return None
    [item] = _items(session, settings, [(row[0], row[1])], now)
    return HandoffView(item)


def transcript(session: Session, conversation_id: str) -> list[Line]:
    rows = session.scalars(
        select(TranscriptMessage)
        .where(TranscriptMessage.conversation_id == conversation_id)
        .order_by(TranscriptMessage.id.desc())
        .limit(TRANSCRIPT_LINES)
    ).all()
    return [_line(row) for row in reversed(rows)]


def customer_claims(
    session: Session, settings: Settings, conversation_id: str, now: datetime
) -> list[ClaimCard]:
    """The claims of the person this conversation is verified as (none otherwise)."""
    identity = session.scalars(
        select(ChannelIdentity).where(ChannelIdentity.conversation_id == conversation_id)
    ).one_or_none()
    if identity is None or binding_expired(settings, identity, now):
        return []
    claims = session.scalars(
        select(Claim)
        .join(Policy, Policy.id == Claim.policy_id)
        .where(Policy.policyholder_id == identity.policyholder_id)
        .options(selectinload(Claim.checklist), joinedload(Claim.policy))
        .order_by(Claim.reported_on.desc(), Claim.id.desc())
    ).all()
    today = clock.local_today(settings)
    cards = []
    for claim in claims:
        status = clock.deadline_status(settings, claim, today)
        pending = sorted(
            (d for d in status.deadlines if d.completed_on is None), key=lambda d: d.due
        )
        cards.append(
            ClaimCard(
                claim_number=claim.claim_number,
                claim_type=str(claim.claim_type),
                status=str(claim.status),
                claimed_amount=f"{claim.claimed_amount:,.2f}" if claim.claimed_amount else None,
                missing=[e.name for e in claim.checklist if not e.received],
                next_deadline=(str(pending[0].name), pending[0].due) if pending else None,
                overdue=bool(status.overdue),
            )
        )
    return cards


def agents(session: Session) -> list[tuple[str, str]]:
    """(username, display name) of everyone who can take a handoff."""
    rows = session.execute(
        select(StaffUser.username, StaffUser.display_name)
        .where(StaffUser.active, StaffUser.role.in_(("agent", "admin")))
        .order_by(StaffUser.display_name)
    ).all()
    return [(username, name) for username, name in rows]


@dataclass(frozen=True)
class Note:
    author: str
    text: str
    at: datetime


def notes(session: Session, handoff_id: int) -> list[Note]:
    """Staff's private notes on a handoff (close notes included), oldest first."""
    rows = session.scalars(
        select(HandoffStep)
        .where(HandoffStep.handoff_id == handoff_id, HandoffStep.kind == "note")
        .order_by(HandoffStep.id)
    ).all()
    return [Note(row.actor, row.text or "", row.at) for row in rows]
