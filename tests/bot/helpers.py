"""Helpers for the action tests (bot env): a fake backend on loopback, trackers, and a renderer
that turns what an action dispatched into the sentence the customer would read."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import HANDOFF_MARKER
from tests.bot.fake_backend import BOT_TOKEN, FakeBackend

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
CONVERSATION = "wechat:o_test_openid"


@pytest.fixture
async def backend(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBackend]:
    fake = FakeBackend()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("BACKEND_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("BACKEND_TIMEOUT_SECONDS", "0.5")
    try:
        yield fake
    finally:
        fake.release.set()
        await asyncio.sleep(0.05)
        await runner.cleanup()


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def default_slots() -> dict[str, Any]:
    return {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()} | {
        "requested_slot": None
    }


def user_event(
    text: str,
    intent: str | None,
    entities: Iterable[dict[str, Any]] = (),
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": list(entities),
    }
    return {"event": "user", "text": text, "parse_data": parse_data, "metadata": metadata or {}}


def make_tracker(
    text: str = "",
    intent: str | None = None,
    entities: Iterable[dict[str, Any]] = (),
    slots: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    history: Iterable[dict[str, Any]] = (),
    response_selector: dict[str, Any] | None = None,
    active_loop: str | None = None,
    sender_id: str = CONVERSATION,
) -> Tracker:
    """A tracker whose latest message is `text`; `history` are earlier events."""
    entities = list(entities)
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities,
        "metadata": metadata or {},
    }
    if response_selector:
        latest["response_selector"] = response_selector
    events = [*history, user_event(text, intent, entities, metadata)]
    return Tracker(
        sender_id, default_slots() | (slots or {}), latest, events, False, None,
        {"name": active_loop} if active_loop else {}, "action_listen",
    )  # fmt: skip


def form_tracker(
    form: str,
    requested_slot: str | None,
    candidates: dict[str, Any] | None = None,
    text: str = "",
    intent: str | None = "inform",
    entities: Iterable[dict[str, Any]] = (),
    slots: dict[str, Any] | None = None,
    history: Iterable[dict[str, Any]] = (),
    sender_id: str = CONVERSATION,
    confidence: float = 0.99,
) -> Tracker:
    """The temporary tracker Rasa's FormAction sends to validate_<form>: the user
    message, then the form's action, then the extracted slot candidates."""
    candidates = candidates or {}
    entities = list(entities)
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities,
        "metadata": {},
    }
    events = [
        *history,
        user_event(text, intent, entities),
        {"event": "slot", "name": "requested_slot", "value": requested_slot},
        {"event": "action", "name": form},
        *({"event": "slot", "name": name, "value": value} for name, value in candidates.items()),
    ]
    all_slots = default_slots() | (slots or {}) | {"requested_slot": requested_slot} | candidates
    return Tracker(sender_id, all_slots, latest, events, False, None, {"name": form}, form)


def slot_changes(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The final value of each slot the events set (later events win)."""
    changes: dict[str, Any] = {}
    for event in events:
        if event.get("event") == "slot":
            changes[event["name"]] = event["value"]
    return changes


_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


def _matches(condition: list[dict[str, Any]], slots: dict[str, Any]) -> bool:
    return all(slots.get(item["name"]) == item["value"] for item in condition)


def _fill(name: str, values: dict[str, Any], match: re.Match[str]) -> str:
    key = match.group(1)
    assert values.get(key) not in (None, ""), f"{name}: {{{key}}} left empty"
    return str(values[key])


def render(dispatcher: CollectingDispatcher, slots: dict[str, Any] | None = None) -> list[str]:
    """What the customer reads, from domain.yml, the way Rasa's NLG fills it in.

    Fails when a response is missing from the domain or a {variable} stays unfilled,
    and when an action sent literal text instead of a response.
    """
    slots = default_slots() | (slots or {})
    texts: list[str] = []
    for message in dispatcher.messages:
        if HANDOFF_MARKER in (message.get("custom") or {}):
            continue  # for the app, never shown (actions/handoff.py)
        name = message.get("response")
        assert name, f"an action sent text that is not in the domain: {message}"
        assert not message.get("text"), f"literal text from an action: {message['text']}"
        variations = DOMAIN["responses"].get(name)
        assert variations, f"response {name} is not in domain.yml"
        conditional = [
            v for v in variations if v.get("condition") and _matches(v["condition"], slots)
        ]
        plain = [v for v in variations if not v.get("condition")]
        chosen = (conditional or plain)[0]
        values = {
            **slots,
            **{k: v for k, v in message.items() if k not in ("response", "buttons", "template")},
        }

        texts.append(_PLACEHOLDER.sub(partial(_fill, name, values), chosen["text"]))
    return texts


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [message.get("response") for message in dispatcher.messages]
