"""identity_form: policy number + last four of the national ID, checked by the backend.

The backend binds the conversation to the policyholder; the `verified` slot only
remembers that for the dialogue. Wrong answers are told with the attempts left, a
lock-out stops the form with an explanation (the backend counts and locks).
"""

from __future__ import annotations

import math
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendRefusal, BackendUnavailable
from actions.common import (
    DynamicFormValidationAction,
    backend_for,
    is_answer,
    latest_intent,
    latest_text,
)
from actions.normalize import (
    parse_amount,
    parse_claim_type,
    parse_id_last4,
    parse_incident_date,
    parse_policy_number,
)

# What the customer asked for when we had to stop and verify them.
GOAL_BY_INTENT = {
    "report_claim": "report_claim",
    "query_claim_status": "query_claim_status",
    "upload_document": "upload_document",
    "notice_preference": "notice_preference",
}

DEFAULT_LOCK_MINUTES = 15


def tells_a_story(text: str) -> bool:
    """Words about an incident (a claim type and a date or an amount, or two of them)."""
    facts = [parse_claim_type(text), parse_incident_date(text), parse_amount(text)]
    return sum(1 for fact in facts if fact) >= 2


class ValidateIdentityForm(DynamicFormValidationAction):
    FORM_SLOTS = ("policy_number", "id_last4")

    def name(self) -> str:
        return "validate_identity_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = []
        goal = GOAL_BY_INTENT.get(latest_intent(tracker) or "")
        if goal is None and tells_a_story(latest_text(tracker)):
            goal = "report_claim"  # "昨天在医院看病花了八百" while we ask for the policy
        if goal and (self.activating(tracker) or not parse_policy_number(latest_text(tracker))):
            # What they want now, said before or while we verify them ("我要报案" typed
            # at the policy-number question): remembered, and the question is asked
            # again. A story is kept in the history for the report form to read.
            self.set_now(tracker, events, "goal", goal)
        if self.activating(tracker) and tracker.get_slot("identity_blocked"):
            # A lock-out ended the last attempt; a new request is a new attempt (the
            # backend still refuses while its lock lasts).
            self.set_now(tracker, events, "identity_blocked", None)
        return events + await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("verified") or tracker.get_slot("identity_blocked"):
            return []
        return list(self.FORM_SLOTS)

    # ------------------------------------------------------------------ extraction

    async def extract_policy_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        found = parse_policy_number(text)
        if found:
            return {"policy_number": found}
        if (
            self.requested(tracker) == "policy_number"
            and is_answer(tracker, ["deny"])
            and text.strip()
            and not tells_a_story(text)
        ):
            return {"policy_number": text.strip()}  # validate_policy_number explains
        return {}

    async def extract_id_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        asked = self.requested(tracker) == "id_last4"
        # Both in one message ("P2025000001 1234") count too.
        if not asked and not parse_policy_number(text):
            return {}
        found = parse_id_last4(text)
        if found:
            return {"id_last4": found}
        if asked and is_answer(tracker, ["deny"]) and text.strip() and not tells_a_story(text):
            return {"id_last4": text.strip()}
        return {}

    # ------------------------------------------------------------------ validation

    async def validate_policy_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        policy_number = parse_policy_number(str(value or ""))
        if not policy_number:
            dispatcher.utter_message(response="utter_policy_number_invalid")
            return {"policy_number": None}
        return {"policy_number": policy_number}

    async def validate_id_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        id_last4 = parse_id_last4(str(value or ""))
        if not id_last4:
            dispatcher.utter_message(response="utter_id_last4_invalid")
            return {"id_last4": None}
        return {"id_last4": id_last4}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        policy_number = tracker.slots.get("policy_number")
        id_last4 = tracker.slots.get("id_last4")
        if policy_number and id_last4 and not tracker.slots.get("verified"):
            for slot, value in (
                await self._verify(dispatcher, tracker, policy_number, id_last4)
            ).items():
                self.set_now(tracker, events, slot, value)
        return events

    async def _verify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, policy_number: str, id_last4: str
    ) -> dict[str, Any]:
        # The ID digits are not kept in the dialogue once used.
        try:
            async with backend_for(tracker) as backend:
                identity = await backend.verify_identity(policy_number, id_last4)
        except BackendRefusal as refusal:
            if refusal.code == "locked":
                seconds = refusal.extra.get("retry_after_seconds")
                minutes = (
                    math.ceil(seconds / 60)
                    if isinstance(seconds, (int, float)) and seconds > 0
                    else DEFAULT_LOCK_MINUTES
                )
                dispatcher.utter_message(response="utter_identity_locked", retry_minutes=minutes)
                return {"policy_number": None, "id_last4": None, "identity_blocked": True}
            if refusal.code in ("verification_failed", "validation_error"):
                attempts_left = refusal.extra.get("attempts_left")
                if attempts_left == 1:
                    dispatcher.utter_message(response="utter_identity_failed_last_try")
                elif isinstance(attempts_left, int) and attempts_left > 1:
                    dispatcher.utter_message(
                        response="utter_identity_failed", attempts_left=attempts_left
                    )
                else:
                    dispatcher.utter_message(response="utter_identity_failed_no_count")
                return {"policy_number": None, "id_last4": None}
            dispatcher.utter_message(response="utter_identity_unavailable")
            return {"policy_number": None, "id_last4": None, "identity_blocked": True}
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_identity_unavailable")
            return {"policy_number": None, "id_last4": None, "identity_blocked": True}
        if not identity.verified:
            dispatcher.utter_message(response="utter_identity_failed_no_count")
            return {"policy_number": None, "id_last4": None}
        dispatcher.utter_message(
            response="utter_identity_verified", policyholder_name=identity.name or ""
        )
        return {
            "verified": True,
            "policyholder_name": identity.name,
            "policy_number": policy_number,
            "id_last4": None,
        }
