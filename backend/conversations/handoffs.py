"""The handoff lifecycle: open (waiting for an agent) -> active (an agent has it) ->
closed (handed back to the bot), with who and when for every step.

While a handoff is open or active the conversation's mode is "handoff": the gateway
does not ask the bot, and keeps each customer message for the agent. Two things give
the conversation back to the bot without closing the handoff: the wait limit and
service hours (the customer is promised a call-back, the handoff keeps the `callback`
mark for agents). The functions here change the database only, in the caller's
transaction; what must then be said or told (the customer, Rasa's tracker, the
console) is returned as `Followup`s for the async layer (handoff_service.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from backend.conversations.outbound import ensure_conversation
from backend.conversations.routes import QuietHours
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.identities.service import binding_expired
from backend.models import (
    ChannelIdentity,
    Conversation,
    Handoff,
    HandoffStep,
    Policyholder,
    StaffUser,
    TranscriptMessage,
)

OPEN, ACTIVE, CLOSED = "open", "active", "closed"
LIVE = (OPEN, ACTIVE)

Say = Literal["queued", "joined", "closed", "callback", "left", "released"]


@dataclass
class Followup:
    """What the async layer does after the transaction: tell the customer (`say`),
    pause or resume the bot's tracker, and tell the console."""

    handoff_id: int
    conversation_id: str
    say: Say | None = None
    values: dict[str, str] = field(default_factory=dict)
    tracker: Literal["pause", "resume"] | None = None
    event: str = "handoff"


def in_service_hours(service_hours: str, timezone: str, now: datetime) -> bool:
    """SERVICE_HOURS ("HH:MM-HH:MM" in TIMEZONE, parsed like SMS_QUIET_HOURS)."""
    hours = QuietHours.parse(service_hours)
    return hours.start is None or hours.contains(now.astimezone(ZoneInfo(timezone)))


def step(
    session: Session, handoff: Handoff, kind: str, actor: str, text: str | None = None
) -> None:
    session.add(HandoffStep(handoff_id=handoff.id, kind=kind, actor=actor, text=text))


def live_handoff(session: Session, conversation_id: str) -> Handoff | None:
    return session.scalars(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(LIVE))
        .order_by(Handoff.id.desc())
    ).first()


def get(session: Session, handoff_id: int, *, lock: bool = False) -> Handoff:
    handoff = session.get(Handoff, handoff_id, with_for_update=lock)
    if handoff is None:
        raise ApiError(404, "not_found", "没有这个转人工记录 / handoff not found")
    return handoff


# ------------------------------------------------------------------ transitions


def open_handoff(
    session: Session, conversation_id: str, reason: str, *, in_service_hours: bool
) -> tuple[Handoff, Followup | None]:
    """The bot hands over (the customer asked, or complained). The same live handoff is
    returned when there is one. Outside service hours it is opened with the call-back
    mark at once and the bot keeps the conversation."""
    conversation = ensure_conversation(session, conversation_id)
    existing = live_handoff(session, conversation_id)
    if existing is not None and not existing.callback:
        return existing, None
    if existing is not None:  # a call-back is pending: the customer asks again
        handoff = existing
    else:
        handoff = Handoff(conversation_id=conversation_id, reason=reason)
        session.add(handoff)
        session.flush()
        step(session, handoff, "opened", "bot", reason)
    if not in_service_hours:
        handoff.callback = True
        conversation.mode = "bot"
        step(session, handoff, "callback", "system", "outside service hours")
        return handoff, Followup(handoff.id, conversation_id, say="callback", event="queue")
    handoff.callback = False
    conversation.mode = "handoff"
    step(session, handoff, "queued", "bot")
    return handoff, Followup(
        handoff.id, conversation_id, say="queued", tracker="pause", event="queue"
    )


def handed_over_since(session: Session, conversation_id: str, since: datetime) -> Followup | None:
    """What a bot turn that began at `since` did to the handoff (the bot's action opens
    it through the API, possibly on another replica): queued it, or promised a
    call-back. The gateway follows up once the turn is over."""
    handoff = live_handoff(session, conversation_id)
    if handoff is None:
        return None
    kinds = session.scalars(
        select(HandoffStep.kind).where(
            HandoffStep.handoff_id == handoff.id,
            HandoffStep.at >= since,
            HandoffStep.kind.in_(("queued", "callback")),
        )
    ).all()
    if "callback" in kinds:
        return Followup(handoff.id, conversation_id, say="callback", event="queue")
    if "queued" in kinds:
        return Followup(handoff.id, conversation_id, say="queued", tracker="pause", event="queue")
    return None


def accept(session: Session, handoff_id: int, agent: str, now: datetime) -> Followup:
    handoff = get(session, handoff_id, lock=True)
    if handoff.status == CLOSED:
        raise ApiError(409, "handoff_closed", "这次转人工已结束 / the handoff is closed")
    if handoff.status == ACTIVE:
        if handoff.agent_username == agent:
            return Followup(handoff.id, handoff.conversation_id)
        raise ApiError(
            409,
            "handoff_taken",
            f"已由 {handoff.agent_username} 接待 / another agent has it",
            agent=handoff.agent_username,
        )
    conversation = ensure_conversation(session, handoff.conversation_id)
    was_callback = handoff.callback
    handoff.status = ACTIVE
    handoff.agent_username = agent
    handoff.accepted_at = now
    handoff.last_agent_message_at = None
    handoff.callback = False
    conversation.mode = "handoff"
    step(session, handoff, "accepted", agent)
    return Followup(
        handoff.id,
        handoff.conversation_id,
        say="joined",
        values={"agent": _display_name(session, agent)},
        tracker="pause" if was_callback else None,
    )


def require_assigned(handoff: Handoff, agent: str, role: str) -> None:
    if handoff.status != ACTIVE:
        raise ApiError(409, "handoff_not_active", "请先接入这次会话 / accept the handoff first")
    if handoff.agent_username != agent and role != "admin":
        raise ApiError(
            409,
            "handoff_taken",
            f"这次会话由 {handoff.agent_username} 接待 / another agent has it",
            agent=handoff.agent_username,
        )


def note(session: Session, handoff_id: int, author: str, text: str) -> HandoffStep:
    handoff = get(session, handoff_id)
    row = HandoffStep(handoff_id=handoff.id, kind="note", actor=author, text=text)
    session.add(row)
    session.flush()
    return row


def transfer(session: Session, handoff_id: int, by: str, role: str, to_agent: str) -> Followup:
    handoff = get(session, handoff_id, lock=True)
    require_assigned(handoff, by, role)
    target = session.scalars(select(StaffUser).where(StaffUser.username == to_agent)).first()
    if target is None or not target.active or target.role not in ("agent", "admin"):
        raise ApiError(
            422, "unknown_agent", f"没有这位客服：{to_agent} / no such agent", agent=to_agent
        )
    handoff.agent_username = to_agent
    handoff.last_agent_message_at = None
    step(session, handoff, "transferred", by, to_agent)
    return Followup(
        handoff.id,
        handoff.conversation_id,
        say="joined",
        values={"agent": target.display_name or target.username},
    )


def close(
    session: Session, handoff_id: int, by: str, role: str, note_text: str | None, now: datetime
) -> Followup:
    """Hand back to the bot, from open or active (an admin may close anyone's)."""
    handoff = get(session, handoff_id, lock=True)
    if handoff.status == CLOSED:
        raise ApiError(409, "handoff_closed", "这次转人工已结束 / the handoff is closed")
    if handoff.status == ACTIVE:
        require_assigned(handoff, by, role)
    was_waiting = handoff.status == OPEN and handoff.callback
    _end(session, handoff, by, now)
    step(session, handoff, "closed", by, note_text)
    if was_waiting:  # the bot has had it since the call-back was promised
        return Followup(handoff.id, handoff.conversation_id)
    return Followup(handoff.id, handoff.conversation_id, say="closed", tracker="resume")


def leave_queue(session: Session, handoff: Handoff, now: datetime) -> Followup:
    """The customer no longer wants a person (while waiting)."""
    _end(session, handoff, "customer", now)
    step(session, handoff, "left", "customer")
    return Followup(handoff.id, handoff.conversation_id, say="left", tracker="resume")


def release_agent(session: Session, handoff: Handoff, why: str) -> Followup:
    """An active handoff goes back to the queue (the agent was idle or logged out)."""
    agent = handoff.agent_username or ""
    handoff.status = OPEN
    handoff.agent_username = None
    handoff.accepted_at = None
    step(session, handoff, "released", "system", f"{why}: {agent}")
    return Followup(handoff.id, handoff.conversation_id, values={"agent": agent}, event="queue")


def agent_spoke(handoff: Handoff, now: datetime) -> None:
    handoff.last_agent_message_at = now


def _end(session: Session, handoff: Handoff, by: str, now: datetime) -> None:
    handoff.status = CLOSED
    handoff.closed_at = now
    handoff.closed_by = by
    conversation = ensure_conversation(session, handoff.conversation_id)
    conversation.mode = "bot"


def _display_name(session: Session, username: str) -> str:
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    return user.display_name if user is not None and user.display_name else username


# ------------------------------------------------------------------ timers


def due_timers(
    session: Session,
    now: datetime,
    *,
    wait: timedelta,
    idle: timedelta,
) -> list[Followup]:
    """Open handoffs nobody accepted within `wait` get the call-back mark and the bot
    has the conversation again; active ones with no agent message for `idle` go back
    to the queue. Run by one worker at a time (claim_job)."""
    followups: list[Followup] = []
    waited = session.scalars(
        select(Handoff)
        .where(
            Handoff.status == OPEN,
            Handoff.callback.is_(False),
            Handoff.opened_at <= now - wait,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for handoff in waited:
        handoff.callback = True
        ensure_conversation(session, handoff.conversation_id).mode = "bot"
        step(session, handoff, "callback", "system", "nobody accepted in time")
        followups.append(
            Followup(
                handoff.id, handoff.conversation_id, say="callback", tracker="resume", event="queue"
            )
        )
    idle_since = or_(
        and_(
            Handoff.last_agent_message_at.is_(None),
            Handoff.accepted_at <= now - idle,
        ),
        Handoff.last_agent_message_at <= now - idle,
    )
    for handoff in session.scalars(
        select(Handoff)
        .where(Handoff.status == ACTIVE, idle_since)
        .with_for_update(skip_locked=True)
    ).all():
        followups.append(release_agent(session, handoff, "idle"))
    return followups


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class LastMessage:
    sender: str
    text: str
    at: datetime


def verified_holder(
    session: Session, settings: Settings, conversation_id: str, now: datetime
) -> Policyholder | None:
    """Who the customer proved to be on this conversation, while that binding lasts
    (an expired binding is not shown to agents either: the person may have changed)."""
    identity = session.scalars(
        select(ChannelIdentity).where(ChannelIdentity.conversation_id == conversation_id)
    ).first()
    if identity is None or binding_expired(settings, identity, now):
        return None
    return session.get(Policyholder, identity.policyholder_id)


def last_message(session: Session, conversation_id: str) -> LastMessage | None:
    row = session.scalars(
        select(TranscriptMessage)
        .where(TranscriptMessage.conversation_id == conversation_id)
        .order_by(TranscriptMessage.id.desc())
    ).first()
    if row is None:
        return None
    return LastMessage(row.sender, row.text or "", row.created_at)


def listing(
    session: Session, statuses: list[str], *, limit: int, before: int | None
) -> list[Handoff]:
    """Open ones oldest first (the queue), then active; closed ones newest first."""
    items: list[Handoff] = []
    for status in (OPEN, ACTIVE):
        if status in statuses:
            items += session.scalars(
                select(Handoff).where(Handoff.status == status).order_by(Handoff.opened_at)
            ).all()
    if CLOSED in statuses:
        query = select(Handoff).where(Handoff.status == CLOSED)
        if before is not None:
            query = query.where(Handoff.id < before)
        items += session.scalars(query.order_by(Handoff.id.desc()).limit(limit)).all()
    return items


def steps_of(session: Session, handoff_id: int) -> list[HandoffStep]:
    return list(
        session.scalars(
            select(HandoffStep).where(HandoffStep.handoff_id == handoff_id).order_by(HandoffStep.id)
        ).all()
    )


def conversation_of(session: Session, handoff: Handoff) -> Conversation:
    return ensure_conversation(session, handoff.conversation_id)
