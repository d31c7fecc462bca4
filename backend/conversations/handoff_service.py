"""The async side of handoffs: after a transition commits, tell the customer (a line
from domain.yml, on the conversation's own channel, never a template), pause or resume
the bot's tracker through Rasa's HTTP API, and tell the agents' consoles.

The consoles' feed (`HandoffFeed`) goes through Redis pub/sub when REDIS_URL is set
(`channels.broadcast`), so an event from any replica or from the worker (the timers)
reaches every console; without Redis it stays in this process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from backend.conversations import handoffs
from backend.conversations.handoffs import Followup
from backend.conversations.rasa import RasaError
from backend.conversations.routes import QuietHours
from backend.conversations.tracker import tell_the_bot
from backend.core.db import in_transaction
from backend.notifications import compose
from channels.broadcast import Broadcast
from channels.messages import Button, OutboundMessage

if TYPE_CHECKING:
    from backend.core.state import Services

log = logging.getLogger(__name__)

LEAVE_QUEUE = "/leave_queue"


class HandoffFeed:
    """Events for the agents' consoles: {"type": "queue"|"message"|"handoff",
    "handoff_id": ..., ...}, from any replica or the worker (`channels.broadcast`)."""

    TOPIC = "handoffs"

    def __init__(self, broadcast: Broadcast) -> None:
        self.broadcast = broadcast

    async def publish(self, event: dict[str, Any]) -> None:
        await self.broadcast.publish(self.TOPIC, event)

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        async with self.broadcast.listen(self.TOPIC) as queue:
            while True:
                yield await queue.get()


class HandoffService:
    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        self.service_hours = QuietHours.parse(settings.service_hours)
        self.zone = ZoneInfo(settings.timezone)
        self.feed = HandoffFeed(services.channels.broadcast)

    def in_service_hours(self, now: datetime) -> bool:
        settings = self.services.settings
        return handoffs.in_service_hours(settings.service_hours, settings.timezone, now)

    def callback_by(self, now: datetime) -> str:
        """When a person will get back: within the wait limit if the service is open,
        else shortly after it opens next."""
        local = now.astimezone(self.zone)
        if self.in_service_hours(now):
            when = local + timedelta(minutes=self.services.settings.handoff_callback_minutes)
        else:
            assert self.service_hours.start is not None
            when = local.replace(
                hour=self.service_hours.start.hour,
                minute=self.service_hours.start.minute,
                second=0,
                microsecond=0,
            )
            if when <= local:
                when += timedelta(days=1)
            when += timedelta(minutes=self.services.settings.handoff_callback_minutes)
        day = "今天" if when.date() == local.date() else f"{when.month}月{when.day}日"
        return f"{day} {when:%H:%M}"

    async def _db(self, work: Any) -> Any:
        return await in_transaction(self.services.session_factory, work)

    async def follow_up(
        self, followup: Followup | None, *, deliver: bool = True
    ) -> list[OutboundMessage]:
        """Do what a committed transition asks. Returns the customer's line; with
        `deliver` it is also sent (else the caller sends it with its own answers)."""
        if followup is None:
            return []
        messages: list[OutboundMessage] = []
        if followup.say is not None:
            messages = [self.line(followup)]
            if deliver:
                await self.services.channels.buttons.remember(followup.conversation_id, messages)
                await self.services.outbound.send_text(
                    followup.conversation_id, messages, sender="system", bot_pending=True
                )
        if followup.tracker is not None:
            await self._tracker(followup.conversation_id, followup.tracker)
        await self.feed.publish(
            {
                "type": followup.event,
                "handoff_id": followup.handoff_id,
                "conversation_id": followup.conversation_id,
                **({"say": followup.say} if followup.say else {}),
                **followup.values,
            }
        )
        return messages

    def line(self, followup: Followup) -> OutboundMessage:
        assert followup.say is not None
        now = datetime.now(UTC)
        values = {
            "service_hours": self.services.settings.service_hours,
            "callback_by": self.callback_by(now),
            **followup.values,
        }
        text, buttons = compose.response(f"utter_handoff_{followup.say}", values)
        return OutboundMessage(
            text=text,
            buttons=tuple(Button(title, payload) for title, payload in buttons),
            metadata={"sender": "system", "handoff": followup.say},
        )

    async def _tracker(self, conversation_id: str, what: str) -> None:
        """Rasa's tracker knows when a person has the conversation: paused on handoff,
        resumed on hand-back (after hearing what the agent said), so the bot picks up
        with the slots it had."""
        try:
            if what == "resume":
                await tell_the_bot(self.services, conversation_id)
            await self.services.rasa.append_events(conversation_id, [{"event": what}])
        except RasaError as exc:
            log.warning("handoff: could not %s the tracker of %s: %s", what, conversation_id, exc)

    # ------------------------------------------------------------ the customer, waiting

    async def wants_to_leave(self, text: str | None) -> bool:
        """The customer no longer wants a person: the queue line's button, or what Rasa's
        NLU makes of their words (the cancel intent), without running a bot turn."""
        if not text:
            return False
        if text.strip() == LEAVE_QUEUE:
            return True
        try:
            parsed = await self.services.rasa.parse(text)
        except RasaError as exc:
            log.warning("handoff: could not parse a waiting customer's message: %s", exc)
            return False
        intent = parsed.get("intent") or {}
        return (
            intent.get("name") in self.services.settings.handoff_leave_intents
            and float(intent.get("confidence") or 0) >= 0.6
        )

    async def leave(self, handoff_id: int) -> list[OutboundMessage]:
        def work(session: Any) -> Followup | None:
            handoff = handoffs.get(session, handoff_id, lock=True)
            if handoff.status != handoffs.OPEN:
                return None
            return handoffs.leave_queue(session, handoff, datetime.now(UTC))

        followup = await self._db(work)
        return await self.follow_up(followup, deliver=False)

    # ------------------------------------------------------------ timers

    async def run_timers(self) -> int:
        settings = self.services.settings
        now = datetime.now(UTC)
        followups: list[Followup] = await self._db(
            lambda s: handoffs.due_timers(
                s,
                now,
                wait=timedelta(minutes=settings.handoff_wait_minutes),
                idle=timedelta(minutes=settings.handoff_idle_minutes),
            )
        )
        for followup in followups:
            await self.follow_up(followup)
        return len(followups)
