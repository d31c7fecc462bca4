"""Accepted messages whose app replica died before answering them (an SMS: Twilio had
its 200 and will not send it again; a web chat message after its 202; a WeChat message
stored by its turn) are answered by a notifications worker.

Every worker looks every INBOUND_RETRY_SECONDS for accepted turns whose claim has run
out (INBOUND_LEASE_SECONDS after the replica that took them claimed them), claims them
(one worker wins each), and answers them as the channel does
(`ChannelRuntime.answerers`: the bot's turn, sent over the platform's API). The workers
rather than the app replicas look, because on SQLite every look takes the database's
write lock, which the app's request handling (and its tests) should not wait behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.core.state import Services

log = logging.getLogger(__name__)

BATCH = 20


async def answer_unanswered(services: Services) -> int:
    """Claim the accepted messages left unanswered and answer them in the background;
    return how many were taken."""
    runtime = services.channels
    messages = await services.gateway.claim_unanswered(limit=BATCH)
    for message in messages:
        answer = runtime.answerers.get(message.channel)
        if answer is None:
            log.error(
                "inbound %s: no way to answer a %s message", message.dedup_key, message.channel
            )
            continue
        log.warning(
            "inbound %s was accepted but not answered (its replica stopped): answering it now",
            message.dedup_key,
        )
        runtime.spawn(answer(message))
    return len(messages)


async def _keep_answering(services: Services) -> None:
    await asyncio.sleep(services.settings.inbound_retry_seconds)
    while True:
        try:
            await answer_unanswered(services)
        except Exception:  # the database may be away a moment; try again next round
            log.exception("inbound: looking for unanswered messages failed")
        await asyncio.sleep(services.settings.inbound_retry_seconds)


@asynccontextmanager
async def answering_unanswered(services: Services) -> AsyncIterator[None]:
    """While the block runs, this process answers what a dead app replica accepted."""
    task = asyncio.get_running_loop().create_task(_keep_answering(services))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
