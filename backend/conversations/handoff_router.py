"""The agents' API (roles agent and admin): the queue, one handoff with its transcript
and the customer's claims, and the steps of the lifecycle. The console uses it; so can
any other tool. Times are ISO 8601 with offset; agents are named by username."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.conversations import handoffs
from backend.conversations.handoffs import Followup
from backend.conversations.outbound import DeliveryRefused
from backend.core import clock
from backend.core.db import in_transaction
from backend.core.deps import RowId, StateDep
from backend.core.errors import error_body
from backend.core.security import StaffCaller, require_staff
from backend.core.settings import Settings
from backend.core.state import Services
from backend.models import ChecklistEntry, Claim, Handoff, Policy, TranscriptMessage
from channels.messages import OutboundMessage

router = APIRouter(prefix="/api/v1/handoffs", tags=["handoffs"])
AgentCaller = Annotated[StaffCaller, Depends(require_staff("agent"))]
T = TypeVar("T")

Status = Literal["open", "active", "closed"]


class LastMessageOut(BaseModel):
    sender: str
    text: str
    at: datetime


class HandoffItem(BaseModel):
    id: int
    conversation_id: str
    channel: str
    reason: str
    status: Status
    callback: bool
    opened_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    # Until accepted (or until now while waiting).
    waited_seconds: float
    agent: str | None
    customer_name: str | None
    last_message: LastMessageOut | None


class HandoffList(BaseModel):
    items: list[HandoffItem]


class NoteOut(BaseModel):
    author: str
    text: str
    at: datetime


class StepOut(BaseModel):
    kind: str
    actor: str
    text: str | None
    at: datetime


class TranscriptLine(BaseModel):
    id: int
    direction: str
    sender: str  # customer | bot | agent | system (a notice or a handoff line)
    text: str | None
    at: datetime
    delivery_status: str | None
    error_code: str | None


class ClaimSummary(BaseModel):
    claim_number: str
    claim_type: str
    status: str
    missing: list[str]
    next_deadline: str | None  # the nearest open legal time limit: its name
    next_deadline_due: date | None
    overdue: bool


class HandoffDetail(HandoffItem):
    notes: list[NoteOut]
    steps: list[StepOut]
    transcript: list[TranscriptLine]
    claims: list[ClaimSummary]


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class TransferIn(BaseModel):
    agent: str = Field(min_length=1, max_length=60)


class CloseIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class MessageOut(BaseModel):
    status: str  # sent | queued (SMS: Twilio accepted it)


async def _db(state: Services, work: Callable[[Session], T]) -> T:
    return await in_transaction(state.session_factory, work)


def _item(session: Session, settings: Settings, handoff: Handoff, now: datetime) -> HandoffItem:
    conversation = handoffs.conversation_of(session, handoff)
    last = handoffs.last_message(session, handoff.conversation_id)
    holder = handoffs.verified_holder(session, settings, handoff.conversation_id, now)
    until = handoff.accepted_at or handoff.closed_at or now
    return HandoffItem(
        id=handoff.id,
        conversation_id=handoff.conversation_id,
        channel=conversation.channel,
        reason=handoff.reason,
        status=handoff.status,
        callback=handoff.callback,
        opened_at=handoff.opened_at,
        accepted_at=handoff.accepted_at,
        closed_at=handoff.closed_at,
        closed_by=handoff.closed_by,
        waited_seconds=round(max(0.0, (until - handoff.opened_at).total_seconds()), 1),
        agent=handoff.agent_username,
        customer_name=holder.name if holder is not None else None,
        last_message=None if last is None else LastMessageOut(**last.__dict__),
    )


def _claims(session: Session, state: Services, conversation_id: str) -> list[ClaimSummary]:
    settings = state.settings
    verified = handoffs.verified_holder(session, settings, conversation_id, datetime.now(UTC))
    if verified is None:
        return []
    holder = verified.id
    today = clock.local_today(settings)
    rows = session.scalars(
        select(Claim)
        .join(Policy, Policy.id == Claim.policy_id)
        .where(Policy.policyholder_id == holder)
        .order_by(Claim.id.desc())
        .limit(20)
    ).all()
    summaries = []
    for claim in rows:
        missing = session.scalars(
            select(ChecklistEntry.name)
            .where(ChecklistEntry.claim_id == claim.id, ChecklistEntry.received.is_(False))
            .order_by(ChecklistEntry.position)
        ).all()
        clocks = clock.deadline_status(settings, claim, today)
        open_ones = sorted((d for d in clocks.deadlines if d.open), key=lambda d: d.due)
        summaries.append(
            ClaimSummary(
                claim_number=claim.claim_number,
                claim_type=claim.claim_type.value,
                status=claim.status.value,
                missing=list(missing),
                next_deadline=open_ones[0].name if open_ones else None,
                next_deadline_due=open_ones[0].due if open_ones else None,
                overdue=bool(clocks.overdue),
            )
        )
    return summaries


@router.get("")
async def list_handoffs(
    _agent: AgentCaller,
    state: StateDep,
    status: Annotated[list[Status] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HandoffList:
    """Open ones oldest first (the queue), then active ones; closed ones newest first,
    paged with `limit` and `before` (an id)."""
    statuses = list(status or ["open", "active"])
    now = datetime.now(UTC)

    def work(session: Session) -> HandoffList:
        rows = handoffs.listing(session, statuses, limit=limit, before=before)
        return HandoffList(items=[_item(session, state.settings, h, now) for h in rows])

    return await _db(state, work)


@router.get("/events")
async def handoff_events(_agent: AgentCaller, state: StateDep) -> StreamingResponse:
    """Server-sent events for the consoles: a handoff opened, accepted, released or
    closed ("queue"/"handoff"), and each customer message during a handoff ("message")."""

    async def stream() -> AsyncIterator[str]:
        yield ": connected\n\n"
        events = state.handoffs.feed.subscribe().__aiter__()
        pending = asyncio.ensure_future(events.__anext__())
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=15)
                if not done:
                    yield ": keep-alive\n\n"
                    continue
                event = pending.result()
                yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
                pending = asyncio.ensure_future(events.__anext__())
        finally:
            pending.cancel()

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.get("/{handoff_id}")
async def get_handoff(handoff_id: RowId, _agent: AgentCaller, state: StateDep) -> HandoffDetail:
    now = datetime.now(UTC)

    def work(session: Session) -> HandoffDetail:
        handoff = handoffs.get(session, handoff_id)
        steps = handoffs.steps_of(session, handoff.id)
        lines = session.scalars(
            select(TranscriptMessage)
            .where(TranscriptMessage.conversation_id == handoff.conversation_id)
            .order_by(TranscriptMessage.id)
        ).all()
        return HandoffDetail(
            **_item(session, state.settings, handoff, now).model_dump(),
            notes=[
                NoteOut(author=s.actor, text=s.text or "", at=s.at)
                for s in steps
                if s.kind == "note"
            ],
            steps=[
                StepOut(kind=s.kind, actor=s.actor, text=s.text, at=s.at)
                for s in steps
                if s.kind != "note"
            ],
            transcript=[
                TranscriptLine(
                    id=m.id,
                    direction=m.direction,
                    sender=m.sender,
                    text=m.text,
                    at=m.created_at,
                    delivery_status=m.delivery_status,
                    error_code=m.error_code,
                )
                for m in lines
            ],
            claims=_claims(session, state, handoff.conversation_id),
        )

    return await _db(state, work)


async def _transition(
    state: Services, handoff_id: int, work: Callable[[Session], Followup]
) -> HandoffItem:
    followup = await _db(state, work)
    await state.handoffs.follow_up(followup)
    now = datetime.now(UTC)
    return await _db(state, lambda s: _item(s, state.settings, handoffs.get(s, handoff_id), now))


@router.post("/{handoff_id}/accept")
async def accept(handoff_id: RowId, agent: AgentCaller, state: StateDep) -> HandoffItem:
    """Take the handoff: it becomes active with the caller as its agent; the customer
    is told an agent joined. 409 when another agent has it or it is closed."""
    now = datetime.now(UTC)
    return await _transition(
        state, handoff_id, lambda s: handoffs.accept(s, handoff_id, agent.username, now)
    )


@router.post("/{handoff_id}/messages", response_model=MessageOut)
async def send_message(
    handoff_id: RowId, body: TextIn, agent: AgentCaller, state: StateDep
) -> MessageOut | JSONResponse:
    """Send a reply on the customer's own channel (WeChat customer-service message, SMS,
    web chat), recorded with the agent as sender. A platform refusal (45015 window
    closed, 21610 opted out, ...) is stored as failed and answered 409
    `channel_refused` with a plain reason."""

    def check(session: Session) -> str:
        handoff = handoffs.get(session, handoff_id, lock=True)
        handoffs.require_assigned(handoff, agent.username, agent.role)
        return handoff.conversation_id

    conversation_id = await _db(state, check)
    message = OutboundMessage(text=body.text, metadata={"sender": "agent", "agent": agent.username})
    try:
        outcomes = await state.outbound.send_text(
            conversation_id, [message], sender="agent", raise_on_refusal=True, bot_pending=True
        )
    except DeliveryRefused as refused:
        # Answered, not raised: the refused message stays in the transcript as failed
        # (an exception would roll back the request's own transaction with it).
        return JSONResponse(
            status_code=409,
            content=error_body("channel_refused", refused.message, platform_code=refused.code),
        )
    now = datetime.now(UTC)

    def spoke(session: Session) -> None:
        handoffs.agent_spoke(handoffs.get(session, handoff_id), now)

    await _db(state, spoke)
    await state.handoffs.feed.publish(
        {
            "type": "message",
            "handoff_id": handoff_id,
            "conversation_id": conversation_id,
            "sender": "agent",
            "text": body.text,
        }
    )
    status = outcomes[0].status if outcomes else "sent"
    return MessageOut(status="queued" if status == "queued" else "sent")


@router.post("/{handoff_id}/notes", status_code=201)
async def add_note(handoff_id: RowId, body: TextIn, agent: AgentCaller, state: StateDep) -> NoteOut:
    """A private note for staff; never sent to the customer."""

    def work(session: Session) -> NoteOut:
        row = handoffs.note(session, handoff_id, agent.username, body.text)
        return NoteOut(author=row.actor, text=row.text or "", at=row.at)

    return await _db(state, work)


@router.post("/{handoff_id}/transfer")
async def transfer(
    handoff_id: RowId, body: TransferIn, agent: AgentCaller, state: StateDep
) -> HandoffItem:
    return await _transition(
        state,
        handoff_id,
        lambda s: handoffs.transfer(s, handoff_id, agent.username, agent.role, body.agent),
    )


@router.post("/{handoff_id}/close")
async def close(
    handoff_id: RowId, agent: AgentCaller, state: StateDep, body: CloseIn | None = None
) -> HandoffItem:
    """Hand back to the bot (also from open, without accepting): the customer is told,
    the tracker resumes with what the agent said."""
    now = datetime.now(UTC)
    note_text = body.note if body is not None else None
    return await _transition(
        state,
        handoff_id,
        lambda s: handoffs.close(s, handoff_id, agent.username, agent.role, note_text, now),
    )
