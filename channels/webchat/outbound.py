"""The web chat's outbound adapter: messages go to every open browser tab of the
conversation over server-sent events, from whichever replica (or the worker) sends them
(`channels.broadcast`: Redis pub/sub when configured); the page shows the transcript
again after a reload, so a message sent while no tab is open is not lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from channels.broadcast import Broadcast
from channels.delivery import DeliveryOutcome
from channels.messages import OutboundMessage

TOPIC = "webchat:"


@dataclass
class WebChatChannel:
    broadcast: Broadcast
    channel: str = "web"

    @property
    def configured(self) -> bool:
        return True

    def listen(self, address: str) -> AbstractAsyncContextManager[asyncio.Queue[Any]]:
        """The messages for conversation `web:<address>` from now on (lists of
        `OutboundMessage.to_dict()`), while the block lasts."""
        return self.broadcast.listen(TOPIC + address)

    async def send(
        self, address: str, messages: Sequence[OutboundMessage]
    ) -> list[DeliveryOutcome]:
        await self.broadcast.publish(TOPIC + address, [m.to_dict() for m in messages])
        return [DeliveryOutcome(m, "web", "sent") for m in messages]
