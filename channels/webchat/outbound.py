"""The web chat's outbound adapter: messages go to every open browser tab of the
conversation over server-sent events; the page shows the transcript again after a
reload, so a message sent while no tab is open is not lost."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.delivery import DeliveryOutcome
from channels.messages import OutboundMessage


@dataclass
class WebChatChannel:
    channel: str = "web"
    queues: dict[str, set[asyncio.Queue[list[dict[str, Any]]]]] = field(
        default_factory=lambda: defaultdict(set)
    )

    @property
    def configured(self) -> bool:
        return True

    def subscribe(self, address: str) -> asyncio.Queue[list[dict[str, Any]]]:
        queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        self.queues[address].add(queue)
        return queue

    def unsubscribe(self, address: str, queue: asyncio.Queue[list[dict[str, Any]]]) -> None:
        self.queues[address].discard(queue)
        if not self.queues[address]:
            del self.queues[address]

    async def send(
        self, address: str, messages: Sequence[OutboundMessage]
    ) -> list[DeliveryOutcome]:
        payload = [m.to_dict() for m in messages]
        for queue in list(self.queues.get(address, ())):
            queue.put_nowait(payload)
        return [DeliveryOutcome(m, "web", "sent") for m in messages]
