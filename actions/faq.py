"""General questions: the ResponseSelector picks the answer (utter_faq/<topic>); this
action sends it with the backend's published limits filled in, so the bot and the
review rules never disagree about fast-track amounts or time limits."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import public_settings


def whole_yuan(value: str) -> str:
    """`3000.00` -> `3,000`; keeps the cents when there are any."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        return value
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def selected_answer(tracker: Tracker) -> str | None:
    """The response name the ResponseSelector chose, e.g. `utter_faq/fast_track`."""
    selector = (tracker.latest_message or {}).get("response_selector") or {}
    for key in ("faq", "default"):
        response = (selector.get(key) or {}).get("response") or {}
        if response.get("utter_action"):
            return str(response["utter_action"])
        if response.get("intent_response_key"):
            return "utter_" + str(response["intent_response_key"])
    return None


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        answer = selected_answer(tracker)
        if not answer or not answer.startswith("utter_faq/"):
            dispatcher.utter_message(response="utter_default")
            return []
        settings = await public_settings(tracker)
        limits = settings.fast_track_limits
        variables: dict[str, Any] = {
            "decision_days": settings.decision_days,
            "payment_days": settings.payment_days,
            "rejection_notice_days": settings.rejection_notice_days,
            "advance_payment_days": settings.advance_payment_days,
            "medical_limit": whole_yuan(limits.get("medical", "3000.00")),
            "accident_limit": whole_yuan(limits.get("accident", "3000.00")),
            "auto_limit": whole_yuan(limits.get("auto", "5000.00")),
        }
        dispatcher.utter_message(response=answer, **variables)
        return []
