"""The boundary between the channel adapters and the app.

The app implements `ConversationGateway` and provides it through the FastAPI dependency
`channels.deps.get_gateway`. The channels call it; they never reach the bot, the
database or the document store themselves.

Contract the app must keep:

- The gateway outlives the request. WeChat answers that miss the reply budget and every
  SMS answer are produced in a background task after the webhook has returned, so the
  gateway must open its own database session / transaction per call and must not hold
  on to the request's.
- `handle_inbound` is called at most once per `InboundMessage.dedup_key` (per Redis, or
  per process without Redis; an SMS or web chat message: once per `accept`, and again
  only after the replica answering it died); the platform's retries never reach it.
  `handle_inbound_durably` (WeChat) may be called again for a message by a platform
  retry that takes over a turn which seems lost: the unique constraint on (channel,
  platform_message_id) decides which call answers it.
- Expected failures (Rasa down or slow, backend errors) are the gateway's to handle:
  keep the message, and return a short apology as the answer. If the gateway raises,
  the channel logs it and sends `ChannelSettings.fallback_reply_text` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from channels.messages import (
    DeliveryRoute,
    DeliveryStatus,
    HistoryLine,
    InboundMessage,
    OutboundMessage,
)


@runtime_checkable
class ConversationGateway(Protocol):
    async def handle_inbound(self, message: InboundMessage) -> list[OutboundMessage]:
        """Record `message` in the conversation transcript and answer it.

        Routes the message to the bot (Rasa REST channel, passing channel, attachments'
        document ids, button payload and event key as metadata) or, when the
        conversation is handed off, to the agent queue (answer: `[]`).
        Events: "subscribe" (welcome; also clears any earlier opt-out), "unsubscribe"
        (the channel also calls `mark_opted_out`; any answer is dropped, the person can
        no longer be reached), "click" (menu `event_key`, map it to an intent).
        Media was already downloaded and stored through `store_media`: the message's
        `attachments` carry the document ids; `media_error` says why a download failed.
        """
        ...

    async def handle_inbound_durably(self, message: InboundMessage) -> list[OutboundMessage] | None:
        """`handle_inbound` for a platform that retries a message only while it has no
        answer (WeChat): when the bot is to answer the message, the transaction that
        stores it also records it as an accepted, unanswered turn (as `accept` does), so
        should this replica die before `answered`, a notifications worker answers it
        through `ChannelRuntime.answerers`. One more row in the same transaction, not
        another transaction.

        None when the message was stored before (another delivery of it has, or had,
        the turn): not this caller's to answer. A turn whose answer is empty is marked
        answered here.
        """
        ...

    async def accept(self, message: InboundMessage) -> bool:
        """Make `message` durable before answering the platform's webhook, when the
        platform will not send it again once it has its 200 (Twilio): store it in the
        transcript as an accepted, unanswered turn, in one transaction. False when it
        was accepted before (a duplicate delivery): do not answer it again.

        `handle_inbound` then answers an accepted message instead of dropping it as
        already stored, and `answered` ends it. One whose replica died in between is
        handed to `ChannelRuntime.answerers` again by the app's notifications workers.
        """
        ...

    async def answered(
        self, message: InboundMessage, *, passive_reply: Sequence[OutboundMessage] = ()
    ) -> None:
        """The accepted `message` has had its answer (or needs none). `passive_reply`:
        the messages that went out as WeChat's passive reply, recorded in the transcript
        in the same transaction."""
        ...

    async def store_media(
        self, conversation_id: str, data: bytes, *, filename: str, content_type: str
    ) -> str:
        """Store a file the person sent as a document of this conversation; return its id.

        Called before `handle_inbound` for the same message, because platform media ids
        expire (WeChat: 3 days). Encrypt at rest as claim documents require.
        """
        ...

    async def deliver(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        """Send the bot's answer that did not go out as a passive reply (a WeChat turn
        past the reply budget, every SMS answer) over the conversation's channel, and
        record each message's outcome. A refusal is recorded, not raised."""
        ...

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
        """Record one message said to the person, and how it left.

        `status` is "sent" (handed to the platform: passive reply or accepted by the API),
        "queued" (Twilio accepted it; `record_delivery_status` follows) or "failed"
        (`error_code` is the platform's code, e.g. "45015", "21610", "transport").
        """
        ...

    async def record_delivery_status(
        self, platform_message_id: str, status: str, error_code: str | None
    ) -> None:
        """Update the delivery status of a message sent earlier (Twilio status callback,
        WeChat TEMPLATESENDJOBFINISH: "delivered", or "failed" with the reason).

        `status` is the platform's word ("sent", "delivered", "undelivered", "failed", ...).
        Callbacks may arrive more than once and out of order: make it idempotent.
        """
        ...

    async def mark_opted_out(self, conversation_id: str, *, reason: str) -> None:
        """The person can no longer be messaged on this conversation's channel.

        Reasons: "wechat_unsubscribe", "sms_stop" (the person texted STOP), "sms_21610"
        (Twilio refused a send to an unsubscribed number). Nothing more may be sent
        there (the notification worker must check) until the person comes back
        (a WeChat "subscribe" event, or an SMS "START").
        """
        ...

    async def history(self, conversation_id: str, *, limit: int) -> list[HistoryLine]:
        """The last `limit` lines of the conversation, oldest first, as the person saw
        them (their own messages and everything said to them that went out): the web
        chat shows them again after a reload."""
        ...
