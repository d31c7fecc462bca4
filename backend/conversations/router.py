"""Routes the bot uses for handoff and satisfaction, and public settings for FAQs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from backend.conversations import handoffs
from backend.core.deps import SessionDep, SettingsDep
from backend.core.errors import ApiError
from backend.core.security import BotCaller, BotDep
from backend.domain.types import NoticeChannel
from backend.models import Claim, Policy, Policyholder, Survey

router = APIRouter(prefix="/api/v1", tags=["conversations"])


class HandoffIn(BaseModel):
    reason: Literal["request_human", "complain", "fallback", "agent"] = "request_human"


class HandoffOut(BaseModel):
    # open: waiting for an agent; active: an agent has it; callback: outside service
    # hours, the customer will be called back and the bot carries on meanwhile.
    status: str
    handoff_id: int


@router.post("/conversations/{conversation_id}/handoff", status_code=201)
def open_handoff(
    conversation_id: str,
    body: HandoffIn,
    caller: BotDep,
    session: SessionDep,
    settings: SettingsDep,
) -> HandoffOut:
    if conversation_id != caller.conversation_id:
        raise ApiError(404, "not_found", "conversation not found")
    in_hours = handoffs.in_service_hours(
        settings.service_hours, settings.timezone, datetime.now(UTC)
    )
    handoff, _ = handoffs.open_handoff(
        session, conversation_id, body.reason, in_service_hours=in_hours
    )
    # What follows (the queue line, pausing the tracker) is done by the gateway once
    # the bot's turn that called this is over.
    status = "callback" if handoff.callback else handoff.status
    return HandoffOut(status=status, handoff_id=handoff.id)


class SurveyIn(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)
    claim_number: str | None = Field(default=None, pattern=r"^CL\d{12}$")


@router.post("/surveys", status_code=201)
def create_survey(body: SurveyIn, caller: BotDep, session: SessionDep) -> dict[str, int]:
    if body.claim_number:
        # A rating names one of the caller's own claims, never someone else's.
        if caller.policyholder_id is None:
            raise ApiError(403, "not_verified", "请先核实身份 / verify your identity first")
        own = session.scalars(
            select(Claim.id)
            .join(Policy, Policy.id == Claim.policy_id)
            .where(
                Claim.claim_number == body.claim_number,
                Policy.policyholder_id == caller.policyholder_id,
            )
        ).first()
        if own is None:
            raise ApiError(404, "not_found", "没有找到这个理赔案件 / claim not found")
    if (
        body.claim_number
        and session.scalars(
            select(Survey.id).where(Survey.claim_number == body.claim_number)
        ).first()
    ):
        raise ApiError(409, "survey_exists", "这笔理赔已经评价过了 / this claim was already rated")
    survey = Survey(
        conversation_id=caller.conversation_id,
        policyholder_id=caller.policyholder_id,
        claim_number=body.claim_number,
        rating=body.rating,
        comment=(body.comment or "").strip() or None,
        created_at=datetime.now(UTC),
    )
    session.add(survey)
    session.flush()
    return {"survey_id": survey.id}


class NoticePreferencesIn(BaseModel):
    channel: NoticeChannel | None = None
    paused: bool | None = None


class NoticePreferencesOut(BaseModel):
    channel: NoticeChannel
    paused: bool


def _holder(caller: BotCaller, session: SessionDep) -> Policyholder:
    if caller.policyholder_id is None:
        raise ApiError(403, "not_verified", "请先核实身份 / verify your identity first")
    holder = session.get(Policyholder, caller.policyholder_id)
    assert holder is not None
    return holder


@router.get("/me/notice-preferences")
def notice_preferences(caller: BotDep, session: SessionDep) -> NoticePreferencesOut:
    holder = _holder(caller, session)
    return NoticePreferencesOut(
        channel=NoticeChannel(holder.notice_channel), paused=holder.notices_paused
    )


@router.put("/me/notice-preferences")
def set_notice_preferences(
    body: NoticePreferencesIn, caller: BotDep, session: SessionDep
) -> NoticePreferencesOut:
    """The customer chooses where proactive notices go, or stops and restarts them."""
    holder = _holder(caller, session)
    if body.channel is None and body.paused is None:
        raise ApiError(422, "validation_error", "请给出 channel 或 paused / give channel or paused")
    if body.channel is not None:
        holder.notice_channel = body.channel.value
    if body.paused is not None:
        holder.notices_paused = body.paused
    session.flush()
    return NoticePreferencesOut(
        channel=NoticeChannel(holder.notice_channel), paused=holder.notices_paused
    )


class PublicSettingsOut(BaseModel):
    fast_track_limits: dict[str, Decimal]
    decision_days: int
    payment_days: int
    rejection_notice_days: int
    advance_payment_days: int
    limitation_years: int


@router.get("/settings/public")
def public_settings(settings: SettingsDep) -> PublicSettingsOut:
    return PublicSettingsOut(
        fast_track_limits=settings.fast_track_limits,
        decision_days=settings.decision_days,
        payment_days=settings.payment_days,
        rejection_notice_days=settings.rejection_notice_days,
        advance_payment_days=settings.advance_payment_days,
        limitation_years=settings.limitation_years,
    )
