"""Everything the channel routes need at run time, built once in the app's lifespan.

    async with open_channel_runtime(ChannelSettings(), redis=app_redis) as runtime:
        app.state.channel_runtime = runtime
        yield

Nothing is created at import time. The composition root (backend/composition.py) adds
the platform adapters to `runtime.adapters`. Background work (turns that missed the reply
budget, SMS answers, pushes) runs in tasks owned by the runtime; leaving the context
waits for them a little, then cancels what is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from channels.broadcast import Broadcast
from channels.buttons import ButtonMemory
from channels.dedup import Deduplicator
from channels.delivery import ChannelAdapter
from channels.messages import InboundMessage
from channels.settings import ChannelSettings
from channels.store import KeyValueStore, MemoryStore, RedisStore
from channels.turns import TurnRegistry

logger = logging.getLogger(__name__)


@dataclass
class ChannelRuntime:
    settings: ChannelSettings
    store: KeyValueStore
    dedup: Deduplicator
    buttons: ButtonMemory
    # Live events to listeners in every replica (Redis pub/sub when configured).
    broadcast: Broadcast
    turns: TurnRegistry = field(init=False)
    # One outbound adapter per conversation prefix ("wechat", "sms", "web").
    adapters: dict[str, ChannelAdapter] = field(default_factory=dict)
    # Per channel whose messages are accepted before they are answered (`gateway.accept`):
    # how to answer one again whose replica died (set by the composition root).
    answerers: dict[str, Callable[[InboundMessage], Coroutine[Any, Any, None]]] = field(
        default_factory=dict
    )
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.turns = TurnRegistry(
            self.store,
            self.dedup,
            spawn=self.spawn,
            result_ttl_seconds=self.settings.turn_result_ttl_seconds,
        )

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `coro` in the background, kept referenced and its failure logged."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("channels: background task failed", exc_info=task.exception())

    async def drain(self, timeout_seconds: float = 10.0) -> None:
        """Wait until no background work is left (tasks may spawn more), or time out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._tasks)} channel task(s) still running")
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)


@asynccontextmanager
async def open_channel_runtime(
    settings: ChannelSettings,
    *,
    redis: Redis | None = None,
    drain_seconds: float = 10.0,
) -> AsyncIterator[ChannelRuntime]:
    """Build the runtime. `redis` (or REDIS_URL) makes state shared across replicas.

    The platform adapters are the composition root's to add (`runtime.adapters`): this
    generic module never imports a platform folder.
    """
    async with AsyncExitStack() as stack:
        if redis is None and settings.redis_url:
            redis = Redis.from_url(settings.redis_url)
            stack.push_async_callback(redis.aclose)
        store: KeyValueStore = (
            RedisStore(redis, settings.redis_key_prefix) if redis is not None else MemoryStore()
        )
        runtime = ChannelRuntime(
            settings=settings,
            store=store,
            dedup=Deduplicator(store, ttl_seconds=settings.dedup_ttl_seconds),
            buttons=ButtonMemory(store, ttl_seconds=settings.button_ttl_seconds),
            broadcast=Broadcast(redis, settings.redis_key_prefix),
        )
        try:
            yield runtime
        finally:
            try:
                await runtime.drain(drain_seconds)
            except TimeoutError:
                logger.warning("channels: cancelling background work still running at shutdown")
            await runtime.cancel_all()
