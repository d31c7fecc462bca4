"""The app's side of the channels' ConversationGateway: transcript, routing to the
bot or to a person, documents from media, delivery status and opt-outs.

Each call opens its own transaction (calls also run after the webhook returned).
Database work runs in a thread so the event loop never blocks on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.conversations import handoffs
from backend.conversations.outbound import ensure_conversation
from backend.conversations.rasa import RasaError
from backend.conversations.tracker import Unheard, tell_the_bot, unheard_by_bot
from backend.core.db import in_transaction
from backend.documents.service import store_document
from backend.models import InboundTurn, TranscriptMessage
from backend.notifications.delivery_status import record_notice_status
from channels.delivery import DeliveryOutcome
from channels.messages import (
    DeliveryRoute,
    DeliveryStatus,
    HistoryLine,
    InboundMessage,
    OutboundMessage,
)

if TYPE_CHECKING:
    from backend.core.state import Services

log = logging.getLogger(__name__)
T = TypeVar("T")

# Menu keys of the Official Account, as intents the bot knows.
MENU_INTENTS = {
    "REPORT_CLAIM": "/report_claim",
    "CLAIM_STATUS": "/query_claim_status",
    "HUMAN": "/request_human",
    "DOCUMENTS": "/ask_required_documents",
}

# The bot's handoff action puts this among its messages when it opened a handoff
# (actions/handoff.py): a custom message for the app, never sent to anyone.
HANDOFF_MARKER = "claims_handoff"

# Twilio's default opt-in keywords (the whole message, any case). Twilio lifts its own
# block when an opted-out person sends one, so the conversation may be answered again.
SMS_OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})

# Twilio's message statuses in the order they happen; a late callback for an earlier
# status must not take a message's status back (callbacks arrive out of order).
_STATUS_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}


class Recorded(NamedTuple):
    stored: bool  # to be answered: new, or accepted and not answered yet
    mode: str
    opted_out: bool
    rejoined: bool
    new_row: TranscriptMessage | None  # the row written now (None for one found)


class AppGateway:
    def __init__(self, services: Services) -> None:
        self.state = services
        self.settings = services.settings
        self.document_store = services.document_store
        self.apology_text = services.settings.fallback_reply_text

    async def _db(self, work: Callable[[Session], T], *, read_only: bool = False) -> T:
        return await in_transaction(self.state.session_factory, work, read_only=read_only)

    # ------------------------------------------------------------ inbound

    async def accept(self, message: InboundMessage) -> bool:
        """Make `message` durable before the platform hears 200 (it will not send it
        again): its transcript row and an unanswered inbound turn, in one transaction.
        False when it was accepted before (the platform sent it twice)."""
        claimed_until = datetime.now(UTC) + timedelta(seconds=self.settings.inbound_lease_seconds)

        def work(session: Session) -> bool:
            recorded = self._record_inbound(session, message)
            if recorded.new_row is None:
                return False
            session.add(_new_turn(message, recorded.new_row, recorded.rejoined, claimed_until))
            return True

        return await self._db(work)

    async def answered(
        self, message: InboundMessage, *, passive_reply: Sequence[OutboundMessage] = ()
    ) -> None:
        """The accepted `message` has had its answer (or needs none): no replica takes
        it up again. The WeChat passive reply that answered it is recorded in the same
        transaction."""
        if message.platform_message_id is None and not passive_reply:
            return
        now = datetime.now(UTC)

        def work(session: Session) -> None:
            if passive_reply:
                self.state.outbound.write_passive(session, message.conversation_id, passive_reply)
            if message.platform_message_id is not None:
                _finish_turn(session, message, now)

        await self._db(work)

    async def claim_unanswered(self, limit: int) -> list[InboundMessage]:
        """Accepted messages whose replica died before answering them (their claim has
        run out), now claimed by this one. One that failed INBOUND_MAX_ATTEMPTS times is
        given up (logged) rather than answered forever."""
        settings = self.settings

        def work(session: Session) -> list[InboundMessage]:
            now = datetime.now(UTC)
            stalled = session.execute(
                select(InboundTurn.id, InboundTurn.attempts)
                .where(InboundTurn.answered_at.is_(None), InboundTurn.claimed_until < now)
                .order_by(InboundTurn.id)
                .limit(limit)
            ).all()
            claimed = []
            for turn_id, attempts in stalled:
                give_up = attempts >= settings.inbound_max_attempts
                # Conditional on the claim we read (each claim counts an attempt): of two
                # replicas, one wins each row.
                change: dict[str, Any] = (
                    {"answered_at": now}
                    if give_up
                    else {
                        "claimed_until": now + timedelta(seconds=settings.inbound_lease_seconds),
                        "attempts": attempts + 1,
                    }
                )
                result = session.execute(
                    update(InboundTurn)
                    .where(
                        InboundTurn.id == turn_id,
                        InboundTurn.attempts == attempts,
                        InboundTurn.answered_at.is_(None),
                    )
                    .values(**change)
                    .execution_options(synchronize_session=False)
                )
                won = bool(getattr(result, "rowcount", 0))
                if won and give_up:
                    log.error("inbound turn %s failed %s times: given up", turn_id, attempts)
                elif won:
                    claimed.append(turn_id)
            rows = session.scalars(
                select(InboundTurn.message)
                .where(InboundTurn.id.in_(claimed))
                .order_by(InboundTurn.id)
            )
            return [InboundMessage.from_dict(message) for message in rows]

        return await self._db(work)

    async def handle_inbound(self, message: InboundMessage) -> list[OutboundMessage]:
        return await self._handle(message, durable=False) or []

    async def handle_inbound_durably(self, message: InboundMessage) -> list[OutboundMessage] | None:
        return await self._handle(message, durable=True)

    async def _handle(
        self, message: InboundMessage, *, durable: bool
    ) -> list[OutboundMessage] | None:
        claimed_until = datetime.now(UTC) + timedelta(seconds=self.settings.inbound_lease_seconds)

        def record(session: Session) -> tuple[Recorded, bool, list[Unheard]]:
            # What the bot has not heard yet is read in the same transaction: one
            # transaction fewer on every turn's path.
            recorded = self._record_inbound(session, message)
            turn = durable and recorded.new_row is not None and self._bot_answers(message, recorded)
            if turn and recorded.new_row is not None:
                session.add(_new_turn(message, recorded.new_row, recorded.rejoined, claimed_until))
            return recorded, turn, unheard_by_bot(session, message.conversation_id)

        (stored, mode, opted_out, rejoined, row), turn, unheard = await self._db(record)
        if durable and row is None:
            # Stored by another delivery of the message, whose turn it is (or a worker's,
            # should that delivery's replica have died after storing it).
            log.info("inbound %s already stored: not answered here", message.dedup_key)
            return None
        if not stored:
            log.info("inbound %s already stored: not answered again", message.dedup_key)
            return []
        answers = await self._answer(message, mode, opted_out, rejoined, unheard)
        if turn and not answers:
            await self.answered(message)  # nothing to send: done now
        return answers

    @staticmethod
    def _bot_answers(message: InboundMessage, recorded: Recorded) -> bool:
        """Whether the turn of a message just stored is an answer to keep (a durable
        turn): not one handed to a person, opted out, unsubscribing, or an event the bot
        does not hear. It needs the message's id to be found again (events have none)."""
        return (
            message.platform_message_id is not None
            and recorded.mode != "handoff"
            and not recorded.opted_out
            and (recorded.rejoined or AppGateway._bot_input(message)[0] is not None)
        )

    async def _answer(
        self,
        message: InboundMessage,
        mode: str,
        opted_out: bool,
        rejoined: bool,
        unheard: list[Unheard],
    ) -> list[OutboundMessage]:
        if mode == "handoff":
            # A person has this conversation (or will): the message is theirs.
            return await self._while_handed_over(message)
        if opted_out:
            # Unsubscribed (WeChat) or STOP / 21610 (SMS): nothing may be sent there, so
            # the bot is not asked; the message stays in the transcript.
            log.info(
                "inbound %s on an opted-out conversation: kept, not answered", message.dedup_key
            )
            return []
        if message.kind == "event" and message.event == "unsubscribe":
            return []
        text, metadata = self._bot_input(message)
        if rejoined:
            text = "/greet"
        if text is None:
            return []
        turn_began = datetime.now(UTC)
        answers = await self.ask_bot(message.conversation_id, text, metadata, unheard=unheard)
        answers, handed_over = _without_handoff_marker(answers)
        if not handed_over:
            return answers
        # The bot's action handed the conversation over during the turn (it says so
        # with a marker, so other turns cost no look): the customer hears where they
        # stand with the bot's own answer.
        followup = await self._db(
            lambda s: handoffs.handed_over_since(s, message.conversation_id, turn_began),
            read_only=True,
        )
        if followup is not None:
            answers += await self.state.handoffs.follow_up(followup, deliver=False)
        return answers

    async def _while_handed_over(self, message: InboundMessage) -> list[OutboundMessage]:
        """Waiting for an agent, the customer may leave the queue; otherwise the message
        goes to the agent's console (it is in the transcript already)."""
        live = await self._db(lambda s: _live(s, message.conversation_id))
        if live is None:
            return []
        handoff_id, status = live
        service = self.state.handoffs
        waiting = status == handoffs.OPEN and message.kind == "text"
        if waiting and await service.wants_to_leave(message.text):
            return await service.leave(handoff_id)
        await service.feed.publish(
            {
                "type": "message",
                "handoff_id": handoff_id,
                "conversation_id": message.conversation_id,
                "text": message.original_text or message.text or "",
            }
        )
        return []

    def _record_inbound(self, session: Session, message: InboundMessage) -> Recorded:
        """Store the message, or find it accepted and unanswered."""
        conversation = ensure_conversation(session, message.conversation_id)
        conversation.last_inbound_at = datetime.now(UTC)
        if message.kind != "event" or message.event == "click":
            # The customer's own message or menu click opens WeChat's 48-hour window;
            # platform events (subscribe, unsubscribe, template reports) do not.
            conversation.last_customer_message_at = conversation.last_inbound_at
        rejoined = False
        if message.kind == "event" and message.event == "subscribe":
            conversation.opted_out = False
        elif (
            conversation.opted_out
            and message.channel == "sms"
            and (message.text or "").strip().upper() in SMS_OPT_IN_KEYWORDS
        ):
            conversation.opted_out = False
            rejoined = True
        text = message.original_text or message.text
        if message.kind == "event":
            text = f"[{message.event}{':' + message.event_key if message.event_key else ''}]"
        nested = session.begin_nested()
        row = TranscriptMessage(
            conversation_id=message.conversation_id,
            direction="inbound",
            sender="customer",
            channel=message.channel,
            text=text,
            document_id=message.attachments[0].document_id if message.attachments else None,
            platform_message_id=message.platform_message_id,
        )
        try:
            session.add(row)
            nested.commit()
        except IntegrityError:
            nested.rollback()
            # Stored before: a replay, unless it was accepted (`accept`) and still waits
            # for its answer, which this call gives.
            turn = _unanswered_turn(session, message)
            if turn is None:
                return Recorded(False, conversation.mode, conversation.opted_out, False, None)
            return Recorded(True, conversation.mode, conversation.opted_out, turn.rejoined, None)
        return Recorded(True, conversation.mode, conversation.opted_out, rejoined, row)

    @staticmethod
    def _bot_input(message: InboundMessage) -> tuple[str | None, dict[str, Any]]:
        metadata: dict[str, Any] = {"channel": message.channel}
        if message.attachments:
            metadata["attachments"] = [
                {"document_id": a.document_id, "media_type": a.content_type}
                for a in message.attachments
            ]
        if message.media_error:
            metadata["media_error"] = message.media_error
        if message.kind == "event":
            if message.event == "subscribe":
                return "/greet", metadata
            if message.event == "click" and message.event_key in MENU_INTENTS:
                return MENU_INTENTS[message.event_key], metadata
            return None, metadata
        if message.attachments and not message.text:
            return "/upload_document", metadata
        if message.kind == "voice" and not message.text:
            return "/upload_document", {**metadata, "voice_without_text": True}
        return message.text, metadata

    async def ask_bot(
        self,
        conversation_id: str,
        text: str,
        metadata: dict[str, Any],
        *,
        unheard: list[Unheard] | None = None,
    ) -> list[OutboundMessage]:
        """One bot turn through Rasa's REST channel; an apology when Rasa fails. What
        was said outside the bot's turns since its last one is appended first
        (`unheard`, when the caller has read it already)."""
        await tell_the_bot(self.state, conversation_id, unheard)
        try:
            answers = [
                OutboundMessage.from_rasa(m)
                for m in await self.state.rasa.turn(conversation_id, text, metadata)
            ]
        except RasaError as exc:
            log.warning("bot turn failed for %s: %s", conversation_id, exc)
            answers = [OutboundMessage(text=self.apology_text)]
        return answers

    # ------------------------------------------------------------ media

    async def store_media(
        self, conversation_id: str, data: bytes, *, filename: str, content_type: str
    ) -> str:
        def work(session: Session) -> str:
            ensure_conversation(session, conversation_id)
            document = store_document(
                session, self.document_store, self.settings, data, conversation_id, filename
            )
            return document.id

        return await self._db(work)

    # ------------------------------------------------------------ outbound

    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        await self.state.outbound.send_text(conversation_id, messages, sender="bot")

    async def record_outbound(
        self,
        conversation_id: str,
        message: OutboundMessage,
        *,
        route: DeliveryRoute,
        status: DeliveryStatus,
        platform_message_id: str | None = None,
        error_code: str | None = None,
    ) -> None:
        if route == "wechat_passive":
            await self.state.outbound.record_passive(conversation_id, message)
            return
        await self.state.outbound.record(
            conversation_id,
            [DeliveryOutcome(message, route, status, platform_message_id, error_code)],
            sender="bot",
        )

    async def record_delivery_status(
        self, platform_message_id: str, status: str, error_code: str | None
    ) -> None:
        rank = _STATUS_ORDER.get(status)
        later = [name for name, r in _STATUS_ORDER.items() if rank is not None and r > rank]
        # One conditional UPDATE: a concurrent callback with a later status is not undone.
        statement = update(TranscriptMessage).where(
            TranscriptMessage.platform_message_id == platform_message_id,
            TranscriptMessage.direction == "outbound",
        )
        if later:
            statement = statement.where(
                or_(
                    TranscriptMessage.delivery_status.is_(None),
                    TranscriptMessage.delivery_status.not_in(later),
                )
            )

        def work(session: Session) -> None:
            session.execute(statement.values(delivery_status=status, error_code=error_code))
            record_notice_status(session, self.settings, platform_message_id, status, error_code)

        await self._db(work)

    async def history(self, conversation_id: str, *, limit: int) -> list[HistoryLine]:
        def work(session: Session) -> list[HistoryLine]:
            rows = session.execute(
                select(
                    TranscriptMessage.sender, TranscriptMessage.text, TranscriptMessage.created_at
                )
                .where(
                    TranscriptMessage.conversation_id == conversation_id,
                    TranscriptMessage.text.is_not(None),
                    or_(
                        TranscriptMessage.direction == "inbound",
                        TranscriptMessage.delivery_status.is_(None),
                        TranscriptMessage.delivery_status != "failed",
                    ),
                )
                .order_by(TranscriptMessage.id.desc())
                .limit(limit)
            ).all()
            return [HistoryLine(r.sender, r.text or "", r.created_at) for r in reversed(rows)]

        return await self._db(work)

    async def mark_opted_out(self, conversation_id: str, *, reason: str) -> None:
        def work(session: Session) -> None:
            conversation = ensure_conversation(session, conversation_id)
            conversation.opted_out = True
            log.info("conversation %s opted out (%s)", conversation_id, reason)

        await self._db(work)


def _accepted(message: InboundMessage) -> Any:
    """The transcript row of an accepted message, as a subquery of its id."""
    return (
        select(TranscriptMessage.id)
        .where(
            TranscriptMessage.channel == message.channel,
            TranscriptMessage.direction == "inbound",
            TranscriptMessage.platform_message_id == message.platform_message_id,
        )
        .scalar_subquery()
    )


def _unanswered_turn(session: Session, message: InboundMessage) -> InboundTurn | None:
    if message.platform_message_id is None:
        return None
    return session.scalars(
        select(InboundTurn).where(
            InboundTurn.transcript_message_id == _accepted(message),
            InboundTurn.answered_at.is_(None),
        )
    ).first()


def _new_turn(
    message: InboundMessage, row: TranscriptMessage, rejoined: bool, claimed_until: datetime
) -> InboundTurn:
    return InboundTurn(
        transcript_message_id=row.id,
        conversation_id=message.conversation_id,
        channel=message.channel,
        message=message.to_dict(),
        rejoined=rejoined,
        claimed_until=claimed_until,
    )


def _finish_turn(session: Session, message: InboundMessage, now: datetime) -> None:
    session.execute(
        update(InboundTurn)
        .where(
            InboundTurn.transcript_message_id == _accepted(message),
            InboundTurn.answered_at.is_(None),
        )
        .values(answered_at=now)
        .execution_options(synchronize_session=False)
    )


def transcript(session: Session, conversation_id: str) -> list[TranscriptMessage]:
    return list(
        session.scalars(
            select(TranscriptMessage)
            .where(TranscriptMessage.conversation_id == conversation_id)
            .order_by(TranscriptMessage.id)
        ).all()
    )


def _live(session: Session, conversation_id: str) -> tuple[int, str] | None:
    handoff = handoffs.live_handoff(session, conversation_id)
    return None if handoff is None else (handoff.id, handoff.status)


def _without_handoff_marker(
    answers: list[OutboundMessage],
) -> tuple[list[OutboundMessage], bool]:
    """The bot's messages without the handoff marker, and whether it was there."""
    said = [m for m in answers if not _is_handoff_marker(m)]
    return said, len(said) != len(answers)


def _is_handoff_marker(message: OutboundMessage) -> bool:
    custom = message.metadata.get("custom")
    return isinstance(custom, Mapping) and HANDOFF_MARKER in custom
