"""One bot turn per platform message, however often the platform retries it.

WeChat waits 5 s for a callback's answer, then retries the same message (up to three
times). The first delivery of a message starts the turn in the background; every
delivery (first or retry) then waits up to the reply budget for the turn's result:

- result in time: it becomes the passive reply (the HTTP response body);
- budget over: the answer is "push" (customer-service API) once the turn finishes,
  and the webhook answers "success" at once.

Exactly one of the two happens per turn (`decision`, set once). A platform retry means
the platform gave up on the earlier connection, so only the newest delivery
(`generation`) may decide "passive"; an older one answers "success" into the void. A
retry after the decision reuses it: the same passive reply again, or "success" when
the answer is (being) pushed. With Redis the marks and the finished reply live under
the message's key, so a retry landing on another replica behaves the same.

A replica may die mid-turn. WeChat retries a message only while it has no answer, so
the retry that finds neither a result nor a decision after its budget (the first
delivery's replica never answered WeChat) takes the turn over when the caller allows
it (`can_take_over`): it decides "push" and runs the turn again. The caller's turn must
then be safe to run twice: the gateway stores a message once, and a run that finds it
stored by another returns None (no result: the other run, or the notifications worker
that answers a stored turn whose replica died, answers it). So:

- died before the message was stored: the retry stores it and pushes the answer;
- died after it was stored, before the result: a notifications worker answers it once
  its lease has run out (INBOUND_LEASE_SECONDS), over the customer-service API;
- died after the result: a retry reuses the result from Redis (passive reply or push).

Should the first delivery still be alive, only slow (more than WeChat's 5 s), the run
that stores the message first answers it; the other stops at the store (a file the
person sent may then have been downloaded and kept twice, the transcript names one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from channels.dedup import Deduplicator
from channels.messages import OutboundMessage
from channels.store import KeyValueStore

logger = logging.getLogger(__name__)

Decision = Literal["passive", "push"]
Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]


@dataclass(frozen=True)
class TurnResult:
    conversation_id: str
    messages: tuple[OutboundMessage, ...]
    # False when some message cannot be a passive reply (images): everything is pushed,
    # keeping the order.
    passive_allowed: bool = True

    def to_json(self) -> str:
        return json.dumps(
            {
                "conversation_id": self.conversation_id,
                "messages": [m.to_dict() for m in self.messages],
                "passive_allowed": self.passive_allowed,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, encoded: str) -> TurnResult:
        data = json.loads(encoded)
        return cls(
            conversation_id=data["conversation_id"],
            messages=tuple(OutboundMessage.from_dict(m) for m in data["messages"]),
            passive_allowed=bool(data["passive_allowed"]),
        )


class TurnRegistry:
    def __init__(
        self,
        store: KeyValueStore,
        deduplicator: Deduplicator,
        *,
        spawn: Spawn,
        result_ttl_seconds: float,
        poll_interval_seconds: float = 0.05,
    ) -> None:
        self._store = store
        self._dedup = deduplicator
        self._spawn = spawn
        self._ttl = result_ttl_seconds
        self._poll = poll_interval_seconds
        # Turns running in this process: waiters here wake at once instead of polling.
        self._local_done: dict[str, asyncio.Event] = {}

    @staticmethod
    def _keys(key: str) -> tuple[str, str, str, str]:
        base = f"turn:{key}"
        return f"{base}:gen", f"{base}:result", f"{base}:decision", f"{base}:pushed"

    async def answer(
        self,
        key: str,
        *,
        run_turn: Callable[[], Awaitable[TurnResult | None]],
        budget_seconds: float,
        push: Callable[[TurnResult], Awaitable[None]],
        on_passive: Callable[[TurnResult], Awaitable[None]],
        can_take_over: bool = False,
    ) -> TurnResult | None:
        """Handle one delivery of the message `key`; return the passive reply or None.

        `run_turn` runs for the first delivery, and for a retry that takes over a turn
        which left no trace (`can_take_over`); None from it means another run has the
        message. `push` runs once, in the background, if the answer is pushed;
        `on_passive` runs once when the passive reply is chosen.
        """
        gen_key, _, decision_key, _ = self._keys(key)
        first = not await self._dedup.seen(key)
        generation = await self._store.incr(gen_key, self._ttl)
        if first:
            self._local_done[key] = asyncio.Event()
            self._spawn(self._run(key, run_turn, push, budget_seconds))
        else:
            logger.info("turn %s: platform retry (delivery %d), no new turn", key, generation)

        if not first and await self._store.get(decision_key) == "push":
            return None  # the answer is (being) pushed; nothing to wait for
        result = await self._wait_for_result(key, budget_seconds)
        is_latest = await self._store.get(gen_key) == str(generation)
        if result is None:
            if not is_latest:
                return None
            decided_now = await self._store.set_if_absent(decision_key, "push", self._ttl)
            if decided_now and not first and can_take_over:
                # No delivery had decided: the one before this retry never answered
                # WeChat (its replica died, or it is far too slow). Run the turn here.
                logger.warning("turn %s: no answer from the first delivery, taking over", key)
                self._spawn(self._take_over(key, run_turn, push, budget_seconds))
            elif decided_now or await self._store.get(decision_key) == "push":
                self._spawn(self._push_once(key, push))
            return None
        if not result.passive_allowed or not is_latest:
            return None
        if await self._store.set_if_absent(decision_key, "passive", self._ttl):
            await on_passive(result)
            return result
        # Decided earlier: a retry of an answered message gets the same passive reply
        # again (the platform did not receive the first), or nothing if it was pushed.
        return result if await self._store.get(decision_key) == "passive" else None

    async def passive_reply(self, key: str) -> TurnResult | None:
        """The passive reply chosen for the message `key`, while its result is kept
        (TURN_RESULT_TTL_SECONDS); None if none was chosen."""
        _, result_key, decision_key, _ = self._keys(key)
        if await self._store.get(decision_key) != "passive":
            return None
        encoded = await self._store.get(result_key)
        return None if encoded is None else TurnResult.from_json(encoded)

    async def _take_over(
        self,
        key: str,
        run_turn: Callable[[], Awaitable[TurnResult | None]],
        push: Callable[[TurnResult], Awaitable[None]],
        budget_seconds: float,
    ) -> None:
        _, result_key, _, _ = self._keys(key)
        if await self._store.get(result_key) is not None:
            await self._push_once(key, push)  # the first run finished after all
            return
        await self._run(key, run_turn, push, budget_seconds)

    async def _decide(self, key: str, decision: Decision) -> str:
        _, _, decision_key, _ = self._keys(key)
        await self._store.set_if_absent(decision_key, decision, self._ttl)
        return await self._store.get(decision_key) or decision

    async def _wait_for_result(self, key: str, timeout: float) -> TurnResult | None:
        _, result_key, _, _ = self._keys(key)
        deadline = time.monotonic() + timeout
        while True:
            encoded = await self._store.get(result_key)
            if encoded is not None:
                return TurnResult.from_json(encoded)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            local = self._local_done.get(key)
            if local is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(local.wait(), timeout=remaining)
            else:
                await asyncio.sleep(min(self._poll, remaining))

    async def _run(
        self,
        key: str,
        run_turn: Callable[[], Awaitable[TurnResult | None]],
        push: Callable[[TurnResult], Awaitable[None]],
        budget_seconds: float,
    ) -> None:
        _, result_key, decision_key, _ = self._keys(key)
        try:
            result = await run_turn()
        finally:
            event = self._local_done.pop(key, None)
        if result is None:
            if event is not None:
                event.set()
            return  # another run has the message; it (or a worker) answers it
        await self._store.set(result_key, result.to_json(), self._ttl)
        if event is not None:
            event.set()
        if not result.passive_allowed:
            await self._decide(key, "push")
        # The newest delivery decides as soon as it sees the result. Should it have
        # vanished (client gone, replica died), push once every waiter's budget is over.
        deadline = time.monotonic() + budget_seconds + 1.0
        decision = await self._store.get(decision_key)
        while decision is None and time.monotonic() < deadline:
            await asyncio.sleep(self._poll)
            decision = await self._store.get(decision_key)
        if decision is None:
            decision = await self._decide(key, "push")
        if decision == "push":
            await self._push_once(key, push)

    async def _push_once(self, key: str, push: Callable[[TurnResult], Awaitable[None]]) -> None:
        _, result_key, _, pushed_key = self._keys(key)
        encoded = await self._store.get(result_key)
        if encoded is None:
            return  # the turn's own task pushes when it finishes
        if not await self._store.set_if_absent(pushed_key, "1", self._ttl):
            return
        await push(TurnResult.from_json(encoded))
