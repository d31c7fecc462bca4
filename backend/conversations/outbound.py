"""The one outbound path: every message to a customer, whoever sends it (the bot's
reply, a proactive notice, a service agent), goes through `OutboundService`.

It checks opt-out and unsubscribe, picks the route (customer-service message, template
message, SMS, web chat), calls the platform's adapter (`channels/<platform>/outbound.py`
through `ChannelRuntime.adapters`), records the transcript with the real sender, and
notes opt-outs the platform reports (21610). Free-text senders (bot, agent) never fall
back to a template message: a refusal is recorded and returned to the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.conversations.routes import (
    QuietHours,
    Reachable,
    Route,
    plan_notice_routes,
)
from backend.core.db import in_transaction
from backend.models import ChannelIdentity, Conversation, Policyholder, TranscriptMessage
from channels.delivery import ChannelAdapter, DeliveryOutcome, TemplateAdapter
from channels.messages import OutboundMessage

if TYPE_CHECKING:
    from backend.core.state import Services

log = logging.getLogger(__name__)
T = TypeVar("T")

Sender = Literal["bot", "agent", "system"]


class DeliveryRefused(Exception):
    """A free-text message could not go out (opted out, channel not configured, window
    closed, ...): `code` is the platform's or ours."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class NoticeResult:
    """How one proactive notice went.

    outcome: "sent" (accepted; a confirmation may follow), "delivered" (confirmed),
    "held" (quiet hours: try again at `retry_at`), "retry" (a transient failure),
    "failed" (no route could take it; `error` lists why), "suppressed" (the customer
    stopped proactive notices).
    """

    outcome: Literal["sent", "delivered", "held", "retry", "failed", "suppressed"]
    route: Route | None = None
    platform_message_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class NoticeDelivery:
    """A notice's result, and each route's attempt (conversation id, outcome) for the
    transcript."""

    result: NoticeResult
    attempts: tuple[tuple[str, DeliveryOutcome], ...] = ()

    @property
    def conversation_ids(self) -> set[str]:
        return {conversation_id for conversation_id, _ in self.attempts}


def ensure_conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(id=conversation_id, channel=conversation_id.split(":", 1)[0])
        session.add(conversation)
        session.flush()
    return conversation


class OutboundService:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.quiet_hours = QuietHours.parse(services.settings.sms_quiet_hours)
        self.zone = ZoneInfo(services.settings.timezone)

    async def _db(self, work: Callable[[Session], T]) -> T:
        return await in_transaction(self.services.session_factory, work)

    def _adapter(self, channel: str) -> ChannelAdapter | None:
        return self.services.channels.adapters.get(channel)

    # ------------------------------------------------------------ free text

    async def send_text(
        self,
        conversation_id: str,
        messages: Sequence[OutboundMessage],
        *,
        sender: Sender,
        raise_on_refusal: bool = False,
        bot_pending: bool = False,
    ) -> list[DeliveryOutcome]:
        """Send a reply (bot) or an agent's message on the conversation's own channel.

        Never a template message and never held by quiet hours. Every outcome is
        recorded in the transcript with `sender`; with `raise_on_refusal` a refusal
        raises DeliveryRefused after it was recorded (agents want to know at once).
        """
        if not messages:
            return []
        channel, _, address = conversation_id.partition(":")
        opted_out = await self._db(lambda s: ensure_conversation(s, conversation_id).opted_out)
        adapter = self._adapter(channel)
        if opted_out:
            outcomes = [
                DeliveryOutcome(m, _route_of(channel), "failed", error_code="opted_out")
                for m in messages
            ]
        elif adapter is None:
            outcomes = [
                DeliveryOutcome(m, _route_of(channel), "failed", error_code="no_channel")
                for m in messages
            ]
        else:
            outcomes = await adapter.send(address, messages)
        await self.record(conversation_id, outcomes, sender=sender, bot_pending=bot_pending)
        refused = [o for o in outcomes if o.status == "failed"]
        if refused and raise_on_refusal:
            code = refused[0].error_code or "failed"
            raise DeliveryRefused(code, _refusal_text(code))
        return outcomes

    async def record_passive(
        self, conversation_id: str, message: OutboundMessage, *, sender: Sender = "bot"
    ) -> None:
        """A WeChat passive reply went out with the callback's answer."""
        await self.record(
            conversation_id,
            [DeliveryOutcome(message, "wechat_passive", "sent")],
            sender=sender,
        )

    @staticmethod
    def write_passive(
        session: Session, conversation_id: str, messages: Sequence[OutboundMessage]
    ) -> None:
        """`record_passive` inside the caller's transaction (the one that ends the turn).
        The conversation exists (its message was stored first) and a passive reply never
        fails, so its row is not read: one statement fewer on every WeChat turn."""
        channel = conversation_id.split(":", 1)[0]
        session.add_all(
            TranscriptMessage(
                conversation_id=conversation_id,
                direction="outbound",
                sender="bot",
                channel=channel,
                text=message.text,
                delivery_status="sent",
            )
            for message in messages
        )

    async def record(
        self,
        conversation_id: str,
        outcomes: Sequence[DeliveryOutcome],
        *,
        sender: Sender,
        bot_pending: bool = False,
    ) -> None:
        if outcomes:
            await self._db(
                lambda s: self._write(s, conversation_id, outcomes, sender, bot_pending=bot_pending)
            )

    @staticmethod
    def _write(
        session: Session,
        conversation_id: str,
        outcomes: Sequence[DeliveryOutcome],
        sender: Sender,
        *,
        bot_pending: bool = False,
    ) -> None:
        """Write the outcomes to the transcript. `bot_pending`: said outside a bot turn,
        so the bot hears it before the customer's next turn (conversations/tracker.py)."""
        conversation = ensure_conversation(session, conversation_id)
        for outcome in outcomes:
            session.add(
                TranscriptMessage(
                    conversation_id=conversation_id,
                    direction="outbound",
                    sender=sender,
                    channel=conversation.channel,
                    text=outcome.message.text,
                    platform_message_id=outcome.platform_message_id,
                    delivery_status=outcome.status,
                    error_code=outcome.error_code,
                    bot_pending=bot_pending and outcome.status != "failed",
                )
            )
        if any(o.failure == "opted_out" for o in outcomes) and not conversation.opted_out:
            conversation.opted_out = True
            log.info("conversation %s opted out (platform refusal)", conversation_id)

    # ------------------------------------------------------------ notices

    async def deliver_notice(
        self,
        *,
        policyholder_id: int,
        text: str,
        template_id: str | None,
        template_fields: Mapping[str, str] | None,
        client_msg_id: str,
        metadata: Mapping[str, Any],
        plan: NoticePlan | None = None,
    ) -> NoticeDelivery:
        """Send one proactive notice by the route rules (backend/conversations/routes.py).

        The first route that takes it wins; a refusal moves to the next route; a
        transient failure stops here (the caller retries the notice later). `plan`:
        the routes, when the caller planned a batch at once (`plan_notices`). Nothing
        is written here: the caller writes the delivery (`write_notice`) in the
        transaction that records the notice's outcome, so both commit together (a
        worker commits many notices' outcomes in one transaction).
        """
        now = datetime.now(UTC)
        if plan is None:
            plan = await self._db(lambda s: plan_notice(s, policyholder_id, now))
        attempts: list[tuple[str, DeliveryOutcome]] = []
        result = await self._send_by_plan(
            plan, text, template_id, template_fields, client_msg_id, metadata, now, attempts
        )
        return NoticeDelivery(result, tuple(attempts))

    @classmethod
    def write_notice(cls, session: Session, delivery: NoticeDelivery) -> None:
        """The transcript rows of what each route tried (sender `system`; the bot hears
        them at the customer's next turn)."""
        for conversation_id, outcome in delivery.attempts:
            cls._write(session, conversation_id, [outcome], "system", bot_pending=True)

    async def _send_by_plan(
        self,
        plan: NoticePlan,
        text: str,
        template_id: str | None,
        template_fields: Mapping[str, str] | None,
        client_msg_id: str,
        metadata: Mapping[str, Any],
        now: datetime,
        attempts: list[tuple[str, DeliveryOutcome]],
    ) -> NoticeResult:
        if plan.missing:
            return NoticeResult("failed", error="no_policyholder")
        if plan.paused:
            return NoticeResult("suppressed", error="customer stopped notices")
        message = OutboundMessage(text=text, metadata=dict(metadata))
        errors: list[str] = []
        skip_wechat = False
        for route in plan.routes:
            if skip_wechat and route.channel == "wechat":
                continue
            if route.kind == "sms" and self.quiet_hours.contains(now.astimezone(self.zone)):
                resume = self.quiet_hours.end_after(now.astimezone(self.zone))
                return NoticeResult("held", route=route, retry_at=resume.astimezone(UTC))
            outcome = await self._try_route(
                route, message, template_id, template_fields, client_msg_id
            )
            if outcome is None:
                errors.append(f"{route.kind}:not_available")
                continue
            attempts.append((route.conversation_id, outcome))
            if outcome.status != "failed":
                confirmed = route.kind in ("wechat_customer_service", "web")
                return NoticeResult(
                    "delivered" if confirmed else "sent",
                    route=route,
                    platform_message_id=outcome.platform_message_id,
                )
            errors.append(f"{route.kind}:{outcome.error_code}")
            if outcome.failure == "transient":
                return NoticeResult("retry", route=route, error="; ".join(errors))
            if outcome.failure == "unreachable" and route.channel == "wechat":
                skip_wechat = True  # 43004: not following the account; SMS is next
        return NoticeResult("failed", error="; ".join(errors) or "no_channel")

    async def _try_route(
        self,
        route: Route,
        message: OutboundMessage,
        template_id: str | None,
        template_fields: Mapping[str, str] | None,
        client_msg_id: str,
    ) -> DeliveryOutcome | None:
        adapter = self._adapter(route.channel)
        if adapter is None or not adapter.configured:
            return None
        address = route.conversation_id.split(":", 1)[1]
        if route.kind == "wechat_template":
            if not (template_id and template_fields and isinstance(adapter, TemplateAdapter)):
                return None
            return await adapter.send_template(
                address,
                template_id,
                template_fields,
                message=message,
                client_msg_id=client_msg_id,
            )
        outcomes = await adapter.send(address, [message])
        return outcomes[0] if outcomes else None


def _route_of(channel: str) -> Any:
    return {"wechat": "wechat_customer_service", "sms": "sms", "web": "web"}.get(channel, "web")


def _refusal_text(code: str) -> str:
    return {
        "opted_out": "客户已退订该渠道，消息无法送达 / the customer opted out of this channel",
        "no_channel": "该渠道未配置 / this channel is not configured",
        "not_configured": "该渠道未配置 / this channel is not configured",
        "45015": "已超过微信48小时客服消息时限 / WeChat's 48-hour window is closed",
        "45047": "微信客服消息条数已用完 / WeChat's message quota for this customer is used up",
        "21610": "客户已回复STOP退订短信 / the number replied STOP",
    }.get(code, f"发送失败（{code}）/ the platform refused the message ({code})")


@dataclass(frozen=True)
class NoticePlan:
    """Where a policyholder's notice may go, best first (routes.plan_notice_routes)."""

    routes: list[Route]
    paused: bool = False  # the customer stopped proactive notices
    missing: bool = False  # no such policyholder


def plan_notice(session: Session, policyholder_id: int, now: datetime) -> NoticePlan:
    return plan_notices(session, [policyholder_id], now)[policyholder_id]


def plan_notices(
    session: Session, policyholder_ids: Sequence[int], now: datetime
) -> dict[int, NoticePlan]:
    """The routes of many policyholders' notices, in three queries (a worker's batch)."""
    ids = set(policyholder_ids)
    holders = {
        h.id: h for h in session.scalars(select(Policyholder).where(Policyholder.id.in_(ids)))
    }
    bound: dict[int, list[Reachable]] = {holder_id: [] for holder_id in ids}
    for holder_id, conversation in session.execute(
        select(ChannelIdentity.policyholder_id, Conversation)
        .join(Conversation, Conversation.id == ChannelIdentity.conversation_id)
        .where(ChannelIdentity.policyholder_id.in_(ids))
    ).all():
        bound[holder_id].append(
            Reachable(
                conversation.id, conversation.opted_out, conversation.last_customer_message_at
            )
        )
    sms_ids = {f"sms:{h.phone}": h.id for h in holders.values()}
    for conversation in session.scalars(
        select(Conversation).where(Conversation.id.in_(list(sms_ids)))
    ):
        reachable = bound[sms_ids[conversation.id]]
        if conversation.id not in {r.conversation_id for r in reachable}:
            # An SMS conversation not bound (staff filed the claim) still carries STOP.
            reachable.append(Reachable(conversation.id, conversation.opted_out, None))
    plans: dict[int, NoticePlan] = {}
    for holder_id in ids:
        holder = holders.get(holder_id)
        if holder is None:
            plans[holder_id] = NoticePlan([], missing=True)
            continue
        routes = plan_notice_routes(
            bound[holder_id], phone=holder.phone, preferred=holder.notice_channel, now=now
        )
        plans[holder_id] = NoticePlan(routes, paused=holder.notices_paused)
    return plans
