"""Delivering the outbox: take due notices, compose, send on the one outbound path,
record the outcome. Any number of workers may run this at once.

Taking is a lease: a worker marks the rows it takes `sending` until `lease_until`
(PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two workers never take one row; SQLite: one
writer at a time, BEGIN IMMEDIATE). A worker that dies leaves its rows to the next one
when the lease ends, so nothing is lost. Each row's lease is renewed just before its
send, so a slow but living worker never sends a row another worker has taken. The only
duplicate possible is a notice the platform accepted just before the worker died,
before its outcome was committed. Outcomes commit in groups (`GroupCommit`): a notice's
outcome waits at most for the commit in flight and its own, so the window is a few
milliseconds when idle and about one group's commit under load.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from backend.conversations.outbound import (
    NoticeDelivery,
    NoticePlan,
    OutboundService,
    plan_notices,
)
from backend.conversations.tracker import tell_the_bot
from backend.core.db import GroupCommit, in_transaction
from backend.domain.types import ClaimStatus, NoticeKind
from backend.models import (
    ChecklistEntry,
    Claim,
    Conversation,
    OutboxMessage,
    Policy,
    ScheduledJob,
)
from backend.notifications import compose
from backend.notifications.delivery_status import notice_failed_event, record_rejection_delivered
from backend.notifications.outbox import enqueue
from channels.messages import OutboundMessage

if TYPE_CHECKING:
    from backend.core.state import Services

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class DueNotice:
    id: int
    kind: str
    payload: dict[str, Any]
    policyholder_id: int
    claim_number: str | None
    attempts: int
    created_at: datetime


def take_due(
    session: Session, *, owner: str, now: datetime, limit: int, lease_seconds: float
) -> list[DueNotice]:
    due = or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.lease_until < now),
    )
    # A customer hears of their changes in the order they happened ("approved" before
    # "paid"): a notice waits while an earlier one to the same customer is unfinished
    # (pending, in backoff, held for the morning, or being sent by any worker). So a
    # batch holds at most one notice per customer and can send its notices at once.
    earlier = aliased(OutboxMessage)
    waits = exists().where(
        earlier.policyholder_id == OutboxMessage.policyholder_id,
        earlier.id < OutboxMessage.id,
        earlier.status.in_(("pending", "sending")),
    )
    query = (
        select(OutboxMessage)
        .where(due, ~waits)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query).all()
    taken = []
    for row in rows:
        row.status = "sending"
        row.lease_owner = owner
        row.lease_until = now + timedelta(seconds=lease_seconds)
        row.attempts += 1
        taken.append(
            DueNotice(
                row.id,
                row.kind,
                dict(row.payload),
                row.policyholder_id,
                row.claim_number,
                row.attempts,
                row.created_at,
            )
        )
    return taken


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base·2^(n-1), capped, times 0.5–1.0."""
    delay: float = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class NoticeOutcome:
    """What became of one taken notice: its delivery, or why none was tried."""

    notice: DueNotice
    delivery: NoticeDelivery | None
    crash: str | None = None  # expired, not composable, crashed


class NotificationService:
    def __init__(self, services: Services, *, owner: str) -> None:
        self.services = services
        self.settings = services.settings
        self.owner = owner
        # Outcomes (with their transcript rows) commit in groups: the notices of a
        # batch answer at about the same time, and one transaction for all of them
        # costs little more than one for each.
        self.outcomes = GroupCommit(services.session_factory, self._record_outcomes)

    async def _db(self, work: Callable[[Session], T]) -> T:
        return await in_transaction(self.services.session_factory, work)

    async def run_once(self) -> int:
        """Deliver one batch of due notices; return how many were taken.

        One transaction takes the batch, one plans the routes of all its notices; the
        notices then go out concurrently (NOTICE_CONCURRENCY at a time: each waits
        mostly on a platform's API), and their outcomes commit with their transcript
        rows in groups (`GroupCommit`) as the platforms answer."""
        now = datetime.now(UTC)
        taken_at = time.monotonic()
        batch = await self._db(
            lambda s: take_due(
                s,
                owner=self.owner,
                now=now,
                limit=self.settings.notice_batch_size,
                lease_seconds=self.settings.notice_lease_seconds,
            )
        )
        if not batch:
            return 0
        plans = await self._db(lambda s: plan_notices(s, [n.policyholder_id for n in batch], now))
        # Within the first half of the lease no other worker can have taken a row; a
        # notice that starts later renews its own lease first (a slow platform).
        trusted_until = taken_at + self.settings.notice_lease_seconds / 2
        limit = asyncio.Semaphore(self.settings.notice_concurrency)
        await asyncio.gather(
            *(
                self._deliver_leased(notice, plans[notice.policyholder_id], trusted_until, limit)
                for notice in batch
            )
        )
        return len(batch)

    async def _deliver_leased(
        self,
        notice: DueNotice,
        plan: NoticePlan,
        trusted_until: float,
        limit: asyncio.Semaphore,
    ) -> None:
        async with limit:
            if time.monotonic() >= trusted_until and not await self._db(
                partial(self._renew_lease, notice_id=notice.id)
            ):
                # Another worker has taken it meanwhile: leave it to that worker
                # rather than send it twice.
                log.warning(
                    "notice %s: lease lost before sending; left to its new owner", notice.id
                )
                return
            try:
                outcome = await self.send(notice, plan)
            except Exception as exc:  # one bad notice must not stop the others
                log.exception("notice %s: delivery crashed", notice.id)
                outcome = NoticeOutcome(notice, None, crash=repr(exc))
        # The platform has answered: its slot is free for the next notice while this
        # outcome waits for its group's commit.
        await self.outcomes.submit(outcome)
        delivery = outcome.delivery
        if (
            delivery is not None
            and notice.kind == NoticeKind.CLOSED.value
            and delivery.result.outcome in ("sent", "delivered")
            and delivery.result.route is not None
            and delivery.result.route.kind != "wechat_template"
        ):
            await self._ask_the_survey(notice, delivery.result.route.conversation_id)

    def _renew_lease(self, session: Session, notice_id: int) -> bool:
        now = datetime.now(UTC)
        renewed = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == notice_id,
                OutboxMessage.status == "sending",
                OutboxMessage.lease_owner == self.owner,
                OutboxMessage.lease_until >= now,
            )
            .values(lease_until=now + timedelta(seconds=self.settings.notice_lease_seconds))
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(renewed, "rowcount", 0))

    async def send(self, notice: DueNotice, plan: NoticePlan | None = None) -> NoticeOutcome:
        """Compose the notice and send it on the outbound path; nothing is recorded."""
        age = datetime.now(UTC) - notice.created_at
        if age > timedelta(hours=self.settings.notice_max_age_hours):
            return NoticeOutcome(notice, None, crash=f"expired after {age}")
        try:
            text = compose.render(notice.kind, notice.payload)
        except compose.CompositionError as exc:
            return NoticeOutcome(notice, None, crash=str(exc))
        delivery = await self.services.outbound.deliver_notice(
            policyholder_id=notice.policyholder_id,
            text=text,
            template_id=self.settings.wechat_templates.get(notice.kind),
            template_fields=compose.template_fields(notice.kind, notice.payload),
            client_msg_id=f"notice-{notice.id}",
            metadata={"outbox_id": notice.id, "notice": notice.kind},
            plan=plan,
        )
        return NoticeOutcome(notice, delivery)

    async def _ask_the_survey(self, notice: DueNotice, conversation_id: str) -> None:
        """After `closed` the bot asks its rating question (its survey form), knowing
        the closing notice it follows. A template message cannot carry a question: the
        customer is asked when they next write."""
        try:
            await tell_the_bot(self.services, conversation_id)
            answers = await self.services.rasa.trigger_intent(
                conversation_id, "EXTERNAL_survey", {"claim_number": notice.claim_number or ""}
            )
            messages = [OutboundMessage.from_rasa(m) for m in answers]
            if messages:
                await self.services.channels.buttons.remember(conversation_id, messages)
                await self.services.outbound.send_text(conversation_id, messages, sender="bot")
        except Exception as exc:  # the notice itself went out; the survey is best effort
            log.warning("notice %s: asking the survey failed: %s", notice.id, exc)

    def _record_outcomes(self, session: Session, outcomes: list[NoticeOutcome]) -> None:
        """Record a group of outcomes in one transaction: their conversations and outbox
        rows are read in two queries (the rows locked), then each outcome is applied."""
        conversation_ids = {
            conversation_id
            for outcome in outcomes
            if outcome.delivery is not None
            for conversation_id in outcome.delivery.conversation_ids
        }
        # Held here: the session's identity map keeps only weak references, and
        # ensure_conversation finds them there instead of asking one by one.
        conversations = (
            session.scalars(select(Conversation).where(Conversation.id.in_(conversation_ids))).all()
            if conversation_ids
            else []
        )
        rows = {
            row.id: row
            for row in session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_([o.notice.id for o in outcomes]))
                .order_by(OutboxMessage.id)
                .with_for_update()
            )
        }
        for outcome in outcomes:
            if outcome.delivery is not None:
                OutboundService.write_notice(session, outcome.delivery)
            self._record_outcome(session, rows.get(outcome.notice.id), outcome)
        del conversations

    def _record_outcome(
        self, session: Session, row: OutboxMessage | None, outcome: NoticeOutcome
    ) -> None:
        settings = self.settings
        notice = outcome.notice
        if row is None or row.status != "sending" or row.lease_owner != self.owner:
            log.warning("notice %s: lease lost before its outcome was recorded", notice.id)
            return
        now = datetime.now(UTC)
        row.lease_owner = None
        row.lease_until = None
        if outcome.delivery is None:
            row.status = "failed"
            row.last_error = outcome.crash
            notice_failed_event(session, row, outcome.crash or "failed")
            return
        result = outcome.delivery.result
        if result.route is not None:
            row.route = result.route.kind
            row.conversation_id = result.route.conversation_id
        if result.outcome in ("sent", "delivered"):
            row.status = result.outcome
            row.platform_message_id = result.platform_message_id
            row.sent_at = now
            row.last_error = None
            if result.outcome == "delivered":
                row.delivered_at = now
                record_rejection_delivered(session, settings, row)
        elif result.outcome == "held":
            row.status = "pending"
            row.attempts -= 1  # waiting for the morning is not a failed attempt
            row.next_attempt_at = result.retry_at or now
        elif result.outcome == "retry" and row.attempts < settings.notice_max_attempts:
            row.status = "pending"
            row.last_error = result.error
            row.next_attempt_at = now + timedelta(
                seconds=backoff_seconds(
                    row.attempts,
                    settings.notice_retry_base_seconds,
                    settings.notice_retry_max_seconds,
                )
            )
        elif result.outcome == "suppressed":
            row.status = "suppressed"
            row.last_error = result.error
        else:
            row.status = "failed"
            row.last_error = result.error or "failed"
            if result.outcome == "retry":
                row.last_error = f"gave up after {row.attempts} attempts: {result.error}"
            notice_failed_event(session, row, row.last_error)

    # ------------------------------------------------------------ time-based jobs

    async def run_jobs(self) -> None:
        """The time-based jobs, each run by one worker per interval across replicas."""
        if await self._db(lambda s: claim_job(s, "document_reminders", timedelta(minutes=10))):
            count = await self._db(lambda s: enqueue_document_reminders(s, self.settings))
            if count:
                log.info("document reminders: %d queued", count)
        if await self._db(lambda s: claim_job(s, "handoff_timers", timedelta(seconds=15))):
            moved = await self.services.handoffs.run_timers()
            if moved:
                log.info("handoff timers: %d handoff(s) moved (wait or idle limit)", moved)


def claim_job(session: Session, name: str, interval: timedelta) -> bool:
    """True for exactly one caller per interval, across workers."""
    now = datetime.now(UTC)
    if session.get(ScheduledJob, name) is None:
        try:
            with session.begin_nested():
                session.add(ScheduledJob(name=name, next_run_at=now))
        except IntegrityError:
            pass  # another worker starting at the same moment made it
    moved = session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.name == name, ScheduledJob.next_run_at <= now)
        .values(next_run_at=now + interval, last_run_at=now)
    )
    return bool(getattr(moved, "rowcount", 0))


def enqueue_document_reminders(session: Session, settings: Any) -> int:
    """A reminder for each claim whose required documents are still missing
    DOCUMENT_REMINDER_DAYS after it was filed or last asked (at most
    DOCUMENT_REMINDERS_MAX per request). A conditional update counts each reminder, so
    two runs at once never send one twice."""
    now = datetime.now(UTC)
    step = timedelta(days=settings.document_reminder_days)
    candidates = session.scalars(
        select(Claim).where(
            Claim.status.in_((ClaimStatus.DOCUMENTS_PENDING, ClaimStatus.REOPENED)),
            Claim.documents_requested_at.is_not(None),
            Claim.document_reminders_sent < settings.document_reminders_max,
        )
    ).all()
    queued = 0
    for claim in candidates:
        assert claim.documents_requested_at is not None
        due_at = claim.documents_requested_at + step * (claim.document_reminders_sent + 1)
        if due_at > now:
            continue
        missing = session.scalars(
            select(ChecklistEntry)
            .where(ChecklistEntry.claim_id == claim.id, ChecklistEntry.received.is_(False))
            .order_by(ChecklistEntry.position)
        ).all()
        if not missing:
            continue
        counted = session.execute(
            update(Claim)
            .where(
                Claim.id == claim.id,
                Claim.document_reminders_sent == claim.document_reminders_sent,
            )
            .values(document_reminders_sent=claim.document_reminders_sent + 1)
            .execution_options(synchronize_session=False)
        )
        if not getattr(counted, "rowcount", 0):
            continue
        assert session.get(Policy, claim.policy_id) is not None
        enqueue(
            session,
            claim,
            NoticeKind.DOCUMENTS_REMINDER,
            missing=[{"code": e.code, "name": e.name} for e in missing],
        )
        queued += 1
    return queued


def requeue_failed(session: Session, *, claim_number: str | None, since_hours: float) -> int:
    """Failed notices written within `since_hours` go back to pending, attempts reset,
    fresh for the stale-notice rule (an operator chose to send them)."""
    now = datetime.now(UTC)
    query = (
        update(OutboxMessage)
        .where(
            OutboxMessage.status == "failed",
            OutboxMessage.created_at >= now - timedelta(hours=since_hours),
        )
        .values(status="pending", attempts=0, next_attempt_at=now, created_at=now)
        .execution_options(synchronize_session=False)
    )
    if claim_number:
        query = query.where(OutboxMessage.claim_number == claim_number)
    return int(getattr(session.execute(query), "rowcount", 0) or 0)
