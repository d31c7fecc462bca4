"""Small helpers that talk to the running stack the way a person's phone would."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.stack import BOT_TOKEN, Stack

# A tiny but real PNG (8x8, one colour), different bytes per call.
PNG_HEADER = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000080000000808020000004b6d29dc")


def png() -> bytes:
    return PNG_HEADER + uuid.uuid4().bytes


def joined(messages: list[dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        parts.append(message.get("text") or "")
        parts.extend(button["title"] for button in message.get("buttons") or [])
    return "\n".join(parts)


def claim_of(stack: Stack, conversation_id: str, claim_number: str) -> dict[str, Any]:
    """One claim of the person bound to a conversation (张伟 reports in several tests)."""
    [claim] = [c for c in claims_of(stack, conversation_id) if c["claim_number"] == claim_number]
    return claim


def claims_of(stack: Stack, conversation_id: str) -> list[dict[str, Any]]:
    """What the backend holds for the person bound to a conversation."""
    r = httpx.get(
        stack.app_url + "/api/v1/claims",
        headers={"Authorization": f"Bearer {BOT_TOKEN}", "X-Conversation-Id": conversation_id},
        timeout=10,
    )
    r.raise_for_status()
    return list(r.json()["items"])


# What a customer answers to each of the report form's questions, by the words the
# question carries (domain.yml's utter_ask_* responses).
REPORT_ANSWERS = (
    ("哪天", "前天"),
    ("在哪里", "北京协和医院"),
    ("经过", "感冒发烧去门诊看病"),
)


def finish_report(send: Callable[[str], str], answer: str, amount: str, turns: int = 6) -> str:
    """Answer whatever the report form still asks until the bot shows the summary.

    Journeys that are about what happens after the report use this, so that how much
    the bot understood of the first sentence does not decide whether they can go on.
    """
    for _ in range(turns):
        if "核对" in answer:
            return answer
        answers = (("多少钱", amount), *REPORT_ANSWERS)
        reply = next((text for words, text in answers if words in answer), None)
        if reply is None:
            raise AssertionError(f"the report form asked something unexpected:\n{answer}")
        answer = send(reply)
    raise AssertionError(f"no summary after {turns} answers; last reply:\n{answer}")
