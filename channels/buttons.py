"""Numbered buttons for channels that have none (WeChat text, SMS).

A turn's buttons are numbered 1..n across all its messages ("回复 1 报案"), and the map
number/title -> payload is kept per conversation, so the person's next "1" (or "１", or
the title itself) reaches the bot as the button's payload. A later turn replaces the
map; a turn without buttons clears it, so a plain "1" typed later stays a plain "1".
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence

from channels.messages import Button, OutboundMessage
from channels.store import KeyValueStore

_NUMBER_RE = re.compile(r"^(?:回复\s*)?(\d{1,2})$")
_TRAILING_PUNCTUATION = " \t\r\n。.!！?？,，、"


def render_turn(messages: Sequence[OutboundMessage]) -> list[str | None]:
    """The text of each message with its buttons as numbered lines (None: no text)."""
    rendered: list[str | None] = []
    number = 0
    for message in messages:
        lines = [message.text] if message.text else []
        for button in message.buttons:
            number += 1
            lines.append(f"回复 {number} {button.title}")
        rendered.append("\n".join(lines) if lines else None)
    return rendered


def _normalize(text: str) -> str:
    # NFKC turns full-width digits and letters (１, Ａ) into ASCII.
    return unicodedata.normalize("NFKC", text).strip().strip(_TRAILING_PUNCTUATION).casefold()


class ButtonMemory:
    def __init__(self, store: KeyValueStore, *, ttl_seconds: float) -> None:
        self._store = store
        self._ttl = ttl_seconds

    @staticmethod
    def _key(conversation_id: str) -> str:
        return f"buttons:{conversation_id}"

    async def remember(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        buttons = [b for m in messages for b in m.buttons]
        encoded = json.dumps([[b.title, b.payload] for b in buttons], ensure_ascii=False)
        await self._store.set(self._key(conversation_id), encoded, self._ttl)

    async def recall(self, conversation_id: str) -> list[Button]:
        """The buttons still answerable (the last turn's), in their numbered order."""
        encoded = await self._store.get(self._key(conversation_id))
        if not encoded:
            return []
        return [Button(title, payload) for title, payload in json.loads(encoded)]

    async def resolve(self, conversation_id: str, text: str | None) -> Button | None:
        """The button a reply picks, or None when it is free text."""
        if not text:
            return None
        buttons = await self.recall(conversation_id)
        if not buttons:
            return None
        reply = _normalize(text)
        match = _NUMBER_RE.match(reply)
        if match:
            index = int(match.group(1)) - 1
            return buttons[index] if 0 <= index < len(buttons) else None
        for button in buttons:
            if reply == _normalize(button.title):
                return button
        return None
