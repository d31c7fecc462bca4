"""What the bot must know that was said outside its own turns.

Notices (and, later, agents' replies) go out on the outbound path without a bot turn.
Their transcript rows are marked `bot_pending`; just before the customer's next turn
they are appended to the Rasa tracker as bot events, in the order they were said, so
the bot answers knowing them. Appending at send time instead would cost a Rasa call
per notice (Rasa answers each with the whole tracker), which is what limited how many
notices a worker could send; a conversation that never writes again costs nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.conversations.rasa import RasaError
from backend.core.db import in_transaction
from backend.models import TranscriptMessage

if TYPE_CHECKING:
    from backend.core.state import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unheard:
    id: int
    text: str
    sender: str


def unheard_by_bot(session: Session, conversation_id: str) -> list[Unheard]:
    rows = session.execute(
        select(TranscriptMessage.id, TranscriptMessage.text, TranscriptMessage.sender)
        .where(
            TranscriptMessage.conversation_id == conversation_id,
            TranscriptMessage.bot_pending.is_(True),
        )
        .order_by(TranscriptMessage.id)
    ).all()
    return [Unheard(row.id, row.text or "", row.sender) for row in rows]


def _mark_heard(session: Session, ids: list[int]) -> None:
    session.execute(
        update(TranscriptMessage)
        .where(TranscriptMessage.id.in_(ids))
        .values(bot_pending=False)
        .execution_options(synchronize_session=False)
    )


async def tell_the_bot(
    services: Services, conversation_id: str, unheard: list[Unheard] | None = None
) -> bool:
    """Append what the bot has not heard yet to its tracker. False when Rasa could not
    take it: the rows stay pending and go with the next turn. `unheard`, when the
    caller read it in its own transaction (`unheard_by_bot`), saves reading it again."""
    factory = services.session_factory
    if unheard is None:
        unheard = await in_transaction(factory, lambda s: unheard_by_bot(s, conversation_id))
    if not unheard:
        return True
    try:
        await services.rasa.append_bot_messages(
            conversation_id, [(line.text, {"sender": line.sender}) for line in unheard]
        )
    except RasaError as exc:
        log.warning("telling the bot what %s was told failed: %s", conversation_id, exc)
        return False
    ids = [line.id for line in unheard]
    await in_transaction(factory, lambda s: _mark_heard(s, ids))
    return True
