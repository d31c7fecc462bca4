"""Small helpers that talk to the running stack the way a person's phone would."""

from __future__ import annotations

import uuid
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
