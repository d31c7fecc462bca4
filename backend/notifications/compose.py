"""Composing a notice from the bot's own sentences.

Every sentence lives in domain.yml (`utter_notice_<kind>`); the template messages'
fields in bot/wechat_templates.yml. A notice is filled from its outbox row's payload,
the change it announces, so a late notice still tells its own change. Rendering here
costs microseconds; a Rasa turn (`trigger_intent`) costs about 100 ms of CPU and
predicts nothing while a conversation is paused for a person, so the worker renders
and then appends what was said to the tracker as bot events.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from backend.domain.types import NoticeKind

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_FILE = ROOT / "domain.yml"
TEMPLATE_FILE = ROOT / "bot" / "wechat_templates.yml"


class CompositionError(ValueError):
    """The domain has no sentence for this notice: a deployment error, not transient."""


@lru_cache
def _domain_responses(path: Path = DOMAIN_FILE) -> dict[str, dict[str, Any]]:
    domain = yaml.safe_load(path.read_text(encoding="utf-8"))
    responses: dict[str, dict[str, Any]] = {}
    for name, variations in (domain.get("responses") or {}).items():
        if isinstance(variations, list) and variations and "text" in variations[0]:
            responses[name] = dict(variations[0])
    return responses


@lru_cache
def _responses() -> dict[str, str]:
    return {name: str(v["text"]) for name, v in _domain_responses().items()}


def response(name: str, values: Mapping[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """A domain response the app says itself (not a bot turn): its text filled with
    `values`, and its buttons as (title, payload)."""
    found = _domain_responses().get(name)
    if found is None:
        raise CompositionError(f"domain.yml has no response {name}")
    text = string.Formatter().vformat(str(found["text"]), (), _Blank(values))
    buttons = [(str(b["title"]), str(b["payload"])) for b in found.get("buttons") or ()]
    return text, buttons


@lru_cache
def template_fields_spec(path: Path = TEMPLATE_FILE) -> dict[str, dict[str, str]]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(kind): {str(k): str(v) for k, v in fields.items()} for kind, fields in loaded.items()
    }


def _money(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value or "")


def _day(value: Any) -> str:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    return f"{day.year}年{day.month}月{day.day}日"


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def variables(payload: Mapping[str, Any]) -> dict[str, str]:
    missing = [str(item.get("name", "")) for item in payload.get("missing") or ()]
    values = {key: str(value) for key, value in payload.items() if not isinstance(value, list)}
    values.update(
        missing_items="、".join(missing),
        missing_count=str(len(missing)),
        reason=str(payload.get("reason") or "详见理赔通知书"),
    )
    for key in ("approved_amount", "payout_amount"):
        if key in payload:
            values[key] = _money(payload[key])
    for key in ("decision_due", "payment_due"):
        if key in payload:
            values[key] = _day(payload[key])
    return values


def render(kind: str, payload: Mapping[str, Any]) -> str:
    """The notice's text, from `utter_notice_<kind>` filled with the payload."""
    NoticeKind(kind)  # an unknown kind is a programming error: fail loudly
    text = _responses().get(f"utter_notice_{kind}")
    if text is None:
        raise CompositionError(f"domain.yml has no response utter_notice_{kind}")
    return string.Formatter().vformat(text, (), _Blank(variables(payload)))


def template_fields(kind: str, payload: Mapping[str, Any]) -> dict[str, str] | None:
    """The template message's fields for this notice, or None when it has none."""
    spec = template_fields_spec().get(kind)
    if spec is None:
        return None
    values = _Blank(variables(payload))
    return {key: string.Formatter().vformat(value, (), values) for key, value in spec.items()}
