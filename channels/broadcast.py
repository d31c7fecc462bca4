"""Live events to whoever listens, in every replica: Redis pub/sub when Redis is
configured, else within this process.

    broadcast = Broadcast(redis, prefix="claims:channels:")
    async with broadcast.listen("web:abc") as queue:   # subscribed once this returns
        event = await queue.get()
    await broadcast.publish("web:abc", {"text": "..."})  # from any replica or the worker

The web chat's event stream and the agents' consoles use it. Pub/sub keeps nothing: an
event published while nobody listens is gone, so what a listener must be able to see
later lives elsewhere too (the transcript, the handoff queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)


class Broadcast:
    def __init__(self, redis: Redis | None, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._local: defaultdict[str, set[asyncio.Queue[Any]]] = defaultdict(set)

    async def publish(self, topic: str, event: Any) -> None:
        """Hand `event` (JSON-serialisable) to every listener of `topic`. When Redis
        fails, only this process's listeners get it (and a warning is logged)."""
        if self.redis is not None:
            try:
                await self.redis.publish(self.prefix + topic, json.dumps(event, ensure_ascii=False))
                return
            except Exception as exc:
                logger.warning("broadcast: Redis publish on %s failed: %s", topic, exc)
        self._deliver_here(topic, event)

    def _deliver_here(self, topic: str, event: Any) -> None:
        for queue in list(self._local.get(topic, ())):
            queue.put_nowait(event)

    @asynccontextmanager
    async def listen(self, topic: str) -> AsyncIterator[asyncio.Queue[Any]]:
        """A queue of the events published on `topic` from now on, until the block ends."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._local[topic].add(queue)
        reader: asyncio.Task[None] | None = None
        pubsub = None
        try:
            if self.redis is not None:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self.prefix + topic)
                reader = asyncio.get_running_loop().create_task(self._read(pubsub, topic, queue))
            yield queue
        finally:
            if reader is not None:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            self._local[topic].discard(queue)
            if not self._local[topic]:
                del self._local[topic]

    async def _read(self, pubsub: Any, topic: str, queue: asyncio.Queue[Any]) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    queue.put_nowait(json.loads(message["data"]))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the listener still gets this process's events
            logger.warning("broadcast: Redis subscription to %s ended: %s", topic, exc)
