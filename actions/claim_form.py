"""claim_form: first notice of loss (报案).

Slots: claim_type, incident_date, location, description, claimed_amount, then a
summary to confirm (claim_confirmed). "不对" asks which field to change
(correction_field) and re-asks only that one. The report message itself is read when
the form starts, so "昨天在医院看急诊花了三千五" fills type, date, place, story and
amount at once. Type and date are checked against the backend's rules as soon as they
are known; the claim is created with an Idempotency-Key kept until it went through.
"""

from __future__ import annotations

import logging
import re
import uuid
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendRefusal, BackendUnavailable
from actions.common import (
    CLAIM_SLOTS,
    DOCUMENT_SLOTS,
    SURVEY_SLOTS,
    DynamicFormValidationAction,
    backend_for,
    entities_of,
    is_answer,
    last_user_message,
    latest_entities,
    latest_text,
    public_settings,
    reset,
)
from actions.normalize import (
    CLAIM_FIELDS,
    CLAIM_TYPES,
    UNKNOWN_AMOUNT,
    amount_is_plausible,
    clean,
    entity_values,
    is_unknown_amount,
    money,
    numbered,
    parse_amount,
    parse_claim_field,
    parse_claim_type,
    parse_incident_date,
)
from backend.domain.types import ClaimType

logger = logging.getLogger(__name__)

BASE_SLOTS = ("claim_type", "incident_date", "location", "description", "claimed_amount")

# Refusal codes of /claims/check and POST /claims that concern the incident date.
DATE_REFUSALS = (
    "incident_in_future",
    "before_policy_start",
    "after_policy_end",
    "limitation_expired",
)

MAX_LOCATION = 100
MAX_DESCRIPTION = 500
_INPATIENT_WORDS = ("住院", "住了", "出院", "入院")


def _entity_or_none(entities: dict[str, str], name: str) -> str | None:
    value = entities.get(name)
    return value if value else None


# Submitting a claim is the one answer that cannot be taken back by "不对": below this
# confidence an "affirm" is asked again (a button press is 1.0; a plain "确认" ~0.9).
CONFIRM_MIN_CONFIDENCE = 0.6


def _confidence(tracker: Tracker) -> float:
    intent = (tracker.latest_message or {}).get("intent") or {}
    try:
        return float(intent.get("confidence", 1.0))
    except (TypeError, ValueError):
        return 0.0


class ValidateClaimForm(DynamicFormValidationAction):
    FORM_SLOTS = (*BASE_SLOTS, "correction_field", "claim_confirmed")

    def name(self) -> str:
        return "validate_claim_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        correcting = ["correction_field"] if tracker.slots.get("claim_correcting") else []
        return [*BASE_SLOTS, *correcting, "claim_confirmed"]

    # ------------------------------------------------------------------ extraction

    def _source(self, tracker: Tracker) -> tuple[str, dict[str, str], bool]:
        """(text, entities, whole report). When the form starts, the report message."""
        if self.activating(tracker):
            report = last_user_message(tracker, ["report_claim"])
            if report is None:
                return "", {}, True
            return report["text"], entities_of(report), True
        return latest_text(tracker), entity_values(latest_entities(tracker)), False

    def _answer(self, tracker: Tracker, slot: str, entities: dict[str, str], entity: str) -> bool:
        """Should extract_<slot> read the text? Only for the asked slot, when the NLU
        found no entity (the domain mapping takes that) and it is not a digression."""
        return self.requested(tracker) == slot and not entities.get(entity)

    async def extract_claim_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text, entities, story = self._source(tracker)
        if story:
            found = parse_claim_type(_entity_or_none(entities, "claim_type")) or parse_claim_type(
                text
            )
            return {"claim_type": found} if found else {}
        if not self._answer(tracker, "claim_type", entities, "claim_type"):
            return {}
        found = parse_claim_type(text)
        if found:
            return {"claim_type": found}
        return {"claim_type": text.strip()} if is_answer(tracker) and text.strip() else {}

    async def extract_incident_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text, entities, story = self._source(tracker)
        if story:
            found = parse_incident_date(
                _entity_or_none(entities, "incident_date")
            ) or parse_incident_date(text)
            return {"incident_date": found.isoformat()} if found else {}
        if not self._answer(tracker, "incident_date", entities, "incident_date"):
            return {}
        found = parse_incident_date(text, strict=True)
        if found:
            return {"incident_date": found.isoformat()}
        return {"incident_date": text.strip()} if is_answer(tracker) and text.strip() else {}

    async def extract_location(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        _, entities, story = self._source(tracker)
        if story and entities.get("location"):
            return {"location": entities["location"]}
        return {}  # answers to the question are taken by the domain's from_text mapping

    async def extract_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text, entities, story = self._source(tracker)
        if not story or len(clean(text)) < 8:
            return {}
        # A report that already tells what happened (two facts or more) is the story.
        facts = [
            parse_claim_type(text),
            parse_incident_date(text),
            parse_amount(text),
            entities.get("location"),
        ]
        if sum(1 for fact in facts if fact) >= 2:
            return {"description": clean(text)}
        return {}

    async def extract_claimed_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text, entities, story = self._source(tracker)
        if story:
            found = parse_amount(_entity_or_none(entities, "amount"), strict=True) or parse_amount(
                text
            )
            return {"claimed_amount": str(found)} if found else {}
        if self.requested(tracker) != "claimed_amount":
            return {}
        if is_unknown_amount(text):
            return {"claimed_amount": UNKNOWN_AMOUNT}
        if entities.get("amount"):
            return {}
        found = parse_amount(text, strict=True)
        if found:
            return {"claimed_amount": str(found)}
        return {"claimed_amount": text.strip()} if is_answer(tracker) and text.strip() else {}

    # ------------------------------------------------------------------ validation

    async def validate_claim_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        claim_type = parse_claim_type(str(value or ""))
        if claim_type not in CLAIM_TYPES:
            dispatcher.utter_message(response="utter_claim_type_unknown")
            return {"claim_type": None}
        return {"claim_type": claim_type}

    async def validate_incident_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        incident_date = parse_incident_date(str(value or ""), strict=True)
        if incident_date is None:
            dispatcher.utter_message(response="utter_incident_date_invalid")
            return {"incident_date": None}
        return {"incident_date": incident_date.isoformat()}

    async def validate_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        location = re.sub(r"^(就是|是在|在|于|是)", "", clean(str(value or ""))).strip(" ，。,.!！")
        if len(re.sub(r"[^\w]", "", location)) < 2:
            dispatcher.utter_message(response="utter_location_invalid")
            return {"location": None}
        return {"location": location[:MAX_LOCATION]}

    async def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        description = clean(str(value or ""))
        if len(re.sub(r"[^\w]", "", description)) < 4:
            dispatcher.utter_message(response="utter_description_too_short")
            return {"description": None}
        return {"description": description[:MAX_DESCRIPTION]}

    async def validate_claimed_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if text == UNKNOWN_AMOUNT or is_unknown_amount(text):
            return {"claimed_amount": UNKNOWN_AMOUNT}
        amount = parse_amount(text, strict=True)
        if amount is None:
            dispatcher.utter_message(response="utter_claimed_amount_invalid")
            return {"claimed_amount": None}
        if not amount_is_plausible(amount):
            dispatcher.utter_message(
                response="utter_claimed_amount_implausible", amount=money(amount)
            )
            return {"claimed_amount": None}
        return {"claimed_amount": str(amount)}

    async def validate_correction_field(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        field = text if text in CLAIM_FIELDS else parse_claim_field(text)
        changed = set(tracker.slots_to_validate()) & set(BASE_SLOTS)
        if field is None:
            if changed:  # "是前天" instead of naming the field: the new value is in
                return {"correction_field": sorted(changed)[0]}
            dispatcher.utter_message(response="utter_correction_field_unknown")
            return {"correction_field": None}
        if field in changed:  # "日期改成前天": named and given at once
            return {"correction_field": field}
        return {"correction_field": field, field: None}

    async def validate_claim_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is True and _confidence(tracker) < CONFIRM_MIN_CONFIDENCE:
            # "对吗？" or a word the model barely knows: a claim is not filed on a guess.
            dispatcher.utter_message(response="utter_claim_confirm_unsure")
            return {"claim_confirmed": None}
        if value is True:
            return {
                "claim_confirmed": True,
                "claim_correcting": None,
                "correction_field": None,
                # One key per confirmed submission: a retry after a timeout reuses it.
                "claim_submission_key": tracker.slots.get("claim_submission_key")
                or str(uuid.uuid4()),
            }
        changed = set(tracker.slots_to_validate()) & set(BASE_SLOTS)
        if changed:  # "不对，是前天": already corrected, show the summary again
            return {"claim_confirmed": None}
        field = parse_claim_field(latest_text(tracker))
        if field:  # "地点不对"
            return {
                "claim_confirmed": None,
                "claim_correcting": True,
                "correction_field": field,
                field: None,
            }
        return {"claim_confirmed": None, "claim_correcting": True, "correction_field": None}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        validated = {event["name"] for event in events if event.get("event") == "slot"}
        if validated & {"claim_type", "incident_date"} and tracker.slots.get("claim_type"):
            for slot, value in (await self._check_rules(dispatcher, tracker)).items():
                self.set_now(tracker, events, slot, value)
        return events

    async def _check_rules(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """The backend's FNOL rules for what is known so far; clears what it refuses.

        When the backend cannot be reached the form goes on: the same rules run again
        when the claim is submitted.
        """
        claim_type = tracker.slots.get("claim_type")
        incident_date = tracker.slots.get("incident_date")
        try:
            async with backend_for(tracker) as backend:
                if incident_date:
                    policy_number = await backend.check_claim(claim_type, incident_date)
                    return {"claim_policy_number": policy_number}
                identity = await backend.me()
        except BackendRefusal as refusal:
            return explain_refusal(dispatcher, refusal, claim_type, incident_date)
        except BackendUnavailable:
            return {}
        if (
            identity.verified
            and identity.policies
            and claim_type not in identity.covered_claim_types
        ):
            dispatcher.utter_message(response=f"utter_claim_type_not_covered_{claim_type}")
            return {"claim_type": None}
        return {}


def explain_refusal(
    dispatcher: CollectingDispatcher,
    refusal: BackendRefusal,
    claim_type: str | None,
    incident_date: str | None,
) -> dict[str, Any]:
    """The domain's sentence for a rule the backend refused with; the slot to ask again."""
    if refusal.code == "not_covered":
        if claim_type in CLAIM_TYPES:
            dispatcher.utter_message(response=f"utter_claim_type_not_covered_{claim_type}")
        else:
            dispatcher.utter_message(response="utter_claim_not_covered")
        return {"claim_type": None}
    if refusal.code in DATE_REFUSALS:
        dispatcher.utter_message(
            response=f"utter_{refusal.code}", incident_date=incident_date or ""
        )
        return {"incident_date": None}
    if refusal.code == "validation_error":
        fields = refusal.extra.get("fields") or []
        if "claim_type" in fields:
            dispatcher.utter_message(response="utter_claim_type_unknown")
            return {"claim_type": None}
        dispatcher.utter_message(response="utter_incident_date_invalid")
        return {"incident_date": None}
    logger.warning("unexpected refusal from the claim rules: %s", refusal)
    dispatcher.utter_message(response="utter_backend_unavailable")
    return {}


class ActionAskClaimConfirmed(Action):
    """Shows the summary; the response variation follows the claim_type slot."""

    def name(self) -> str:
        return "action_ask_claim_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        amount = tracker.get_slot("claimed_amount")
        details = {
            "incident_date": tracker.get_slot("incident_date"),
            "location": tracker.get_slot("location"),
            "description": tracker.get_slot("description"),
        }
        if amount and amount != UNKNOWN_AMOUNT:
            dispatcher.utter_message(
                response="utter_claim_summary", amount=money(amount), **details
            )
        else:
            dispatcher.utter_message(response="utter_claim_summary_no_amount", **details)
        return []


def _claim_reset() -> list[EventType]:
    return [*reset(CLAIM_SLOTS), SlotSet("submission_pending", False)]


class ActionSubmitClaim(Action):
    def name(self) -> str:
        return "action_submit_claim"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        slots = {slot: tracker.get_slot(slot) for slot in CLAIM_SLOTS}
        if slots["claim_confirmed"] is not True or not all(slots[slot] for slot in BASE_SLOTS):
            dispatcher.utter_message(response="utter_claim_not_submitted")
            return _claim_reset()
        key = slots["claim_submission_key"] or str(uuid.uuid4())
        amount = (
            None if slots["claimed_amount"] == UNKNOWN_AMOUNT else Decimal(slots["claimed_amount"])
        )
        description = slots["description"]
        inpatient = (
            True
            if slots["claim_type"] == ClaimType.MEDICAL
            and any(w in description for w in _INPATIENT_WORDS)
            else None
        )
        try:
            async with backend_for(tracker) as backend:
                claim = await backend.create_claim(
                    idempotency_key=key,
                    claim_type=slots["claim_type"],
                    incident_date=slots["incident_date"],
                    location=slots["location"],
                    description=description,
                    claimed_amount=amount,
                    policy_number=slots["claim_policy_number"],
                    inpatient=inpatient,
                )
        except BackendUnavailable:
            # Keep everything, the same key included: "确认" retries this very submission.
            dispatcher.utter_message(response="utter_claim_submit_failed")
            return [SlotSet("claim_submission_key", key), SlotSet("submission_pending", True)]
        except BackendRefusal as refusal:
            events = _claim_reset()
            if refusal.code == "not_verified":
                dispatcher.utter_message(response="utter_identity_expired")
                return [*events, SlotSet("verified", False)]
            explain_refusal(dispatcher, refusal, slots["claim_type"], slots["incident_date"])
            dispatcher.utter_message(response="utter_claim_not_submitted")
            return events

        settings = await public_settings(tracker)
        dispatcher.utter_message(
            response="utter_claim_created",
            claim_number=claim.claim_number,
            checklist=numbered(item.name for item in (claim.checklist or claim.missing)),
            decision_days=settings.decision_days,
        )
        if claim.fast_track:
            dispatcher.utter_message(response="utter_claim_fast_track")
        return [
            *_claim_reset(),
            SlotSet("last_claim_number", claim.claim_number),
            SlotSet("goal", None),
        ]


class ActionCancel(Action):
    """Stops whatever was being filled in and forgets it."""

    def name(self) -> str:
        return "action_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_cancelled")
        return [
            *_claim_reset(),
            *reset(DOCUMENT_SLOTS),
            *reset(SURVEY_SLOTS),
            *reset(("policy_number", "id_last4")),
            SlotSet("has_attachments", False),
            SlotSet("goal", None),
            SlotSet("requested_slot", None),
        ]
