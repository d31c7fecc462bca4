"""Helpers shared by the actions: reading the tracker, talking to the backend safely,
and a form validation base that does not need the domain (the action endpoint runs
with `enable_selective_domain`, so Rasa does not send it)."""

from __future__ import annotations

import logging
from abc import ABCMeta, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendClient, BackendError, PublicSettings
from actions.normalize import entity_values

logger = logging.getLogger(__name__)

# Intents that mean "not an answer to your question": a form must reject them so the
# rules for digressions (FAQ, cancel, handoff ...) can run.
DIGRESSION_INTENTS = frozenset(
    {
        "cancel", "request_human", "complain", "faq", "bot_challenge", "greet", "goodbye",
        "thank", "out_of_scope", "query_claim_status", "report_claim",
        "ask_required_documents", "upload_document", "rate_service", "notice_preference",
        "EXTERNAL_survey",
    }
)  # fmt: skip

CLAIM_SLOTS = (
    "claim_type", "incident_date", "location", "description", "claimed_amount",
    "correction_field", "claim_confirmed", "claim_correcting", "claim_policy_number",
    "claim_submission_key",
)  # fmt: skip
DOCUMENT_SLOTS = ("pending_attachments", "document_claim_number", "document_item")
SURVEY_SLOTS = ("survey_rating", "survey_comment", "survey_claim_number")


def backend_for(tracker: Tracker) -> BackendClient:
    """A client acting for this conversation (tracker.sender_id is the conversation id)."""
    return BackendClient.from_env(tracker.sender_id)


async def public_settings(tracker: Tracker) -> PublicSettings:
    """The backend's published limits, or its documented defaults when unreachable."""
    try:
        async with backend_for(tracker) as backend:
            return await backend.public_settings()
    except BackendError:
        return PublicSettings()


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message or {}).get("intent", {}).get("name")


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def latest_entities(tracker: Tracker) -> list[dict[str, Any]]:
    return list((tracker.latest_message or {}).get("entities") or [])


def latest_metadata(tracker: Tracker) -> dict[str, Any]:
    metadata = (tracker.latest_message or {}).get("metadata")
    if isinstance(metadata, dict):
        return metadata
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            found = event.get("metadata")
            return found if isinstance(found, dict) else {}
    return {}


def is_answer(tracker: Tracker, refusals: Iterable[str] = ()) -> bool:
    """The latest message may be an answer to the requested slot, not a digression.

    `refusals` are intents that mean "I won't answer" for this question (deny, where a
    rule handles it), so the form rejects them too.
    """
    intent = latest_intent(tracker)
    return intent not in DIGRESSION_INTENTS and intent not in set(refusals)


def last_user_message(tracker: Tracker, intents: Iterable[str]) -> dict[str, Any] | None:
    """The most recent user message with one of `intents`, as {text, intent, entities}.

    Used to go back to what the customer said before we had to verify them (the report
    "昨天在医院看急诊花了三千五" comes two messages before the claim form starts).
    Stops at the start of the session.
    """
    wanted = set(intents)
    for event in reversed(tracker.events):
        if event.get("event") in ("session_started", "restart"):
            return None
        if event.get("event") != "user":
            continue
        parse_data = event.get("parse_data") or {}
        intent = (parse_data.get("intent") or {}).get("name")
        if intent in wanted:
            return {
                "text": event.get("text") or parse_data.get("text") or "",
                "intent": intent,
                "entities": list(parse_data.get("entities") or []),
            }
    return None


def entities_of(message: dict[str, Any] | None) -> dict[str, str]:
    return entity_values((message or {}).get("entities") or [])


def reset(slots: Sequence[str]) -> list[EventType]:
    return [SlotSet(slot, None) for slot in slots]


class DynamicFormValidationAction(FormValidationAction, metaclass=ABCMeta):
    """A form validation whose required slots change with the conversation.

    Abstract (no `name`), so the action server does not try to register it.

    The domain is not sent to the action server (selective domain), so the form's
    slots are declared here as FORM_SLOTS, and the next slot to ask is always set
    from `required_slots` — an empty list ends the form.
    """

    FORM_SLOTS: Sequence[str] = ()

    @abstractmethod
    def name(self) -> str:
        """The form's validation action name, `validate_<form>`."""

    def domain_slots(self, domain: DomainDict) -> list[str]:
        return list(self.FORM_SLOTS)

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType | None:
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        missing = next((slot for slot in required if tracker.slots.get(slot) is None), None)
        return SlotSet(REQUESTED_SLOT, missing)

    @staticmethod
    def activating(tracker: Tracker) -> bool:
        """True while the form is being started: nothing has been asked yet."""
        return tracker.get_slot(REQUESTED_SLOT) is None

    @staticmethod
    def requested(tracker: Tracker) -> str | None:
        return tracker.get_slot(REQUESTED_SLOT)

    @staticmethod
    def set_now(tracker: Tracker, events: list[EventType], slot: str, value: Any) -> None:
        """Record a slot change made outside a validate_<slot> method."""
        tracker.slots[slot] = value
        events.append(SlotSet(slot, value))
