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
    DIGRESSION_INTENTS,
    DOCUMENT_SLOTS,
    SURVEY_SLOTS,
    DynamicFormValidationAction,
    backend_for,
    entities_of,
    latest_entities,
    latest_intent,
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
    parse_location,
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
MIN_DESCRIPTION = 5  # word characters; shorter gets one follow-up question
NOTHING_MORE_RE = re.compile(
    r"^(?:就这些|没了|没有了|没有|就这样|就这么多|没别的|没其他的?|不知道)"
)
_INPATIENT_WORDS = ("住院", "住了", "出院", "入院")


def _entity_or_none(entities: dict[str, str], name: str) -> str | None:
    value = entities.get(name)
    return value if value else None


# Never an answer, never facts: the customer wants to stop or a person.
STOP_INTENTS = frozenset({"cancel", "request_human", "complain"})
# Messages whose words are not read as facts of the report: questions about something
# else. A report, an answer, a correction, or a message the NLU did not place may be.
NOT_FACTS = DIGRESSION_INTENTS - {"report_claim", "out_of_scope"}
# Taking a cancelled report up again: "要不还是报了吧", "继续刚才的".
RESUME_RE = re.compile(r"还是|继续|刚才|刚刚|接着|恢复|重新|回来|不取消")
FIELD_NAMES = {
    "claim_type": "类型", "incident_date": "日期", "location": "地点",
    "description": "经过", "claimed_amount": "金额",
}  # fmt: skip
_CORRECTION_WORDS = re.compile(r"不对|错了|说错|搞错|写错|改成|改为|改一下|换成|应该是|其实是|更正")
_CORRECTION_VALUE = re.compile(
    r"(?:改成|改为|换成|应该是|其实是|更正为|不对[，,\s]*是|错了[，,\s]*是)\s*(.+)$"
)
_ID_WORDS = re.compile(
    r"(?:我叫|我是|姓名)?\S{0,4}?(?:保单号?|身份证|证件|尾号|后四位|后4位)[^，,。；;\d]{0,6}"
    r"(?:[Pp]?\d[\d\s-]{2,}[\dXx])"
)


def story_facts(text: str, entities: dict[str, str]) -> dict[str, Any]:
    """What a message tells about the incident, as slot values (not validated yet).

    The words decide, the NLU's entities help: 前天在医院看门诊花了八百 ->
    type medical, the date, 医院, 800, and the message itself as the story when it
    holds two facts or more.
    """
    facts: dict[str, Any] = {}
    claim_type = parse_claim_type(_entity_or_none(entities, "claim_type")) or parse_claim_type(text)
    if claim_type:
        facts["claim_type"] = claim_type
    incident_date = parse_incident_date(
        _entity_or_none(entities, "incident_date")
    ) or parse_incident_date(text)
    if incident_date:
        facts["incident_date"] = incident_date.isoformat()
    amount = parse_amount(text) or parse_amount(_entity_or_none(entities, "amount"), strict=True)
    if amount:
        facts["claimed_amount"] = str(amount)
    location = parse_location(text) or _entity_or_none(entities, "location")
    if location:
        facts["location"] = location
    story = _ID_WORDS.sub("", clean(text)).strip(" ，,。")
    # A place name alone reads as type and place (人民医院): a story has a when or a
    # how much besides.
    told = "incident_date" in facts or "claimed_amount" in facts
    if told and len(facts) >= 2 and len(story) >= 8:
        facts["description"] = story
    return facts


def story_messages(tracker: Tracker) -> list[dict[str, Any]]:
    """The user's messages since this report began, oldest first: back to the start of
    the session or the end of the previous report, skipping questions about others."""
    found: list[dict[str, Any]] = []
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind in ("session_started", "restart"):
            break
        if kind == "action" and event.get("name") in ("action_submit_claim", "action_cancel"):
            break
        if kind != "user":
            continue
        parse_data = event.get("parse_data") or {}
        intent = (parse_data.get("intent") or {}).get("name")
        if intent in NOT_FACTS or intent in STOP_INTENTS:
            continue
        found.append(
            {
                "text": event.get("text") or parse_data.get("text") or "",
                "intent": intent,
                "entities": list(parse_data.get("entities") or []),
            }
        )
    return list(reversed(found))


def _right_after_cancel(tracker: Tracker) -> bool:
    """Was the turn before this message the cancel ("继续报案" pressed at once)?"""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif seen_user and event.get("event") == "action":
            if event.get("name") == "action_listen":
                continue
            return event.get("name") == "action_cancel"
    return False


def fresh_reply(tracker: Tracker) -> bool:
    """Is the form reading the customer's reply (not coming back after a digression
    the rules answered, when the same message must not be read again)?"""
    seen_form = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return True
        if kind == "action":
            if not seen_form and event.get("name") == "claim_form":
                seen_form = True  # the form's own step in the temporary tracker
                continue
            return event.get("name") == "action_listen"
    return False


def correction_of(text: str, intent: str | None) -> tuple[str, Any] | None:
    """ "金额改成五千", "日期不对，是大前天": (slot, new value) when a filled field is
    named with a new value; None otherwise."""
    if intent in NOT_FACTS or not _CORRECTION_WORDS.search(text):
        return None
    field = parse_claim_field(text)
    if field is None:
        return None
    match = _CORRECTION_VALUE.search(clean(text))
    rest = match.group(1).strip(" ，,。") if match else ""
    value: Any = None
    if field == "incident_date":
        found_date = parse_incident_date(rest or text, strict=bool(rest))
        value = found_date.isoformat() if found_date else None
    elif field == "claimed_amount":
        amount = parse_amount(rest, strict=True) if rest else parse_amount(text)
        value = str(amount) if amount else None
    elif field == "claim_type":
        value = parse_claim_type(rest or text.replace("类型", ""))
    else:
        value = rest or None
    return (field, value) if value else None


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
    #
    # Every slot of this form is read here from the words (domain mappings are
    # `custom`), so what a message says is kept whatever was asked: the answer to the
    # question, and any fact for a field still empty (facts in any order); a field that
    # is named with a new value ("金额改成五千") is changed at any step.

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        found = self._extract(tracker)
        tracker.slots.update(found)
        return [SlotSet(slot, value) for slot, value in found.items()]

    def _extract(self, tracker: Tracker) -> dict[str, Any]:
        already = set(tracker.slots_to_validate())  # candidates of the domain mappings
        if self.activating(tracker):
            return {k: v for k, v in self._from_history(tracker).items() if k not in already}
        intent = latest_intent(tracker)
        text = latest_text(tracker)
        entities = entity_values(latest_entities(tracker))
        requested = self.requested(tracker)
        if not fresh_reply(tracker):
            return {}
        if intent in STOP_INTENTS and not (
            # Told as the story, a complaint about the hospital or the other driver is
            # the story, not a wish for a person ("烧到39度 去诊所打了针" came back as
            # `complain` once).
            intent == "complain"
            and requested == "description"
            and (tracker.get_slot("description_draft") or story_facts(text, entities))
        ):
            return {}
        found: dict[str, Any] = {}
        facts = story_facts(text, entities)
        if intent in NOT_FACTS and not (
            requested == "description" and facts.keys() & {"incident_date", "claimed_amount"}
        ):
            # A question in between is not read for facts; only when we asked for the
            # story, words with a when or a how much are the story, however they were
            # classified ("昨天做了个胃镜花了一千二 这个能报吗").
            facts = {}

        def empty(slot: str) -> bool:
            return tracker.get_slot(slot) is None and slot not in already

        correction = correction_of(text, intent)
        if correction and correction[0] not in already:
            found[correction[0]] = correction[1]
        if requested in BASE_SLOTS and requested not in already and requested not in found:
            answer = self._answer_to(requested, tracker, text, entities, facts, correction)
            if answer is not None:
                found[requested] = answer
        reviewing = requested in ("claim_confirmed", "correction_field")
        for slot, value in facts.items():
            if slot in found or slot in already or slot == requested:
                continue
            if slot == "description":
                if empty(slot) and requested != "description":
                    found[slot] = value
            elif empty(slot) or (reviewing and intent in ("deny", "inform")):
                # At the summary "不对，是前天" changes the date (then shown again).
                found[slot] = value
        return found

    def _answer_to(
        self,
        slot: str,
        tracker: Tracker,
        text: str,
        entities: dict[str, str],
        facts: dict[str, Any],
        correction: tuple[str, Any] | None,
    ) -> Any:
        """The reply read as the answer to the question asked, or None."""
        intent = latest_intent(tracker)
        stripped = text.strip()
        if correction or not stripped:
            return None
        if slot == "description":
            if intent == "complain" or tracker.get_slot("description_draft"):
                return stripped  # the reply to the gentle follow-up, whatever it is
            if intent in NOT_FACTS and not facts:
                return None  # a question in between ("要什么材料")
            return stripped
        if slot == "location" and not facts.keys() & {"incident_date", "claimed_amount"}:
            # The whole reply is the place ("市一医院", not the 医院 the NLU tagged);
            # "北京协和医院" also reads as a claim type, which does not make it a story.
            if intent == "out_of_scope" and "location" not in facts:
                return None
            return None if intent in NOT_FACTS else stripped
        if slot in facts:
            return facts[slot]
        if intent in NOT_FACTS:
            return None
        if slot == "claim_type":
            found = parse_claim_type(_entity_or_none(entities, "claim_type") or text)
            return found or (None if facts else stripped)
        if slot == "incident_date":
            found = parse_incident_date(text, strict=True)
            if found:
                return found.isoformat()
            return None if facts else stripped
        if slot == "claimed_amount":
            if is_unknown_amount(text):
                return UNKNOWN_AMOUNT
            amount = parse_amount(text, strict=True)
            if amount:
                return str(amount)
            return None if facts else stripped
        return None

    def _from_history(self, tracker: Tracker) -> dict[str, Any]:
        """When the form starts: a report cancelled just before, if the customer is
        taking it up again, and what they said since they asked to report (the report
        itself, a story told while we verified them)."""
        found: dict[str, Any] = {}
        draft = tracker.get_slot("claim_draft") or {}
        if draft and (RESUME_RE.search(latest_text(tracker)) or _right_after_cancel(tracker)):
            found.update({k: v for k, v in draft.items() if k in BASE_SLOTS and v})
            messages = [
                {
                    # "刚才" in "继续刚才的" is not the incident's date.
                    "text": RESUME_RE.sub(" ", latest_text(tracker)),
                    "intent": latest_intent(tracker),
                    "entities": latest_entities(tracker),
                }
            ]
        else:
            messages = story_messages(tracker)
        for message in messages:  # oldest first: later words win
            text = message["text"]
            facts = story_facts(text, entities_of(message))
            if "description" in facts and "description" in found:
                facts.pop("description")  # the first full story stays the story
            found.update(facts)
        return found

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
        draft = tracker.get_slot("description_draft")
        if draft:
            # The reply to the follow-up: added to the first words, whatever it is
            # ("就这些" adds nothing); never asked a third time.
            if len(re.sub(r"[^\w]", "", description)) < 2 or NOTHING_MORE_RE.search(description):
                description = draft
            elif description != draft:
                description = f"{draft}，{description}"
            return {"description": description[:MAX_DESCRIPTION], "description_draft": None}
        if len(re.sub(r"[^\w]", "", description)) < MIN_DESCRIPTION:
            # One gentle follow-up (action_ask_description), then whatever they say
            # is the story.
            return {"description": None, "description_draft": description or "（未说明）"}
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
        activating = self.activating(tracker)
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if activating and tracker.get_slot("claim_draft"):
            # A cancelled report is taken up (or not) when the next one starts: once.
            self.set_now(tracker, events, "claim_draft", None)
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


class ActionAskDescription(Action):
    """The story question, or after a very short story the one gentle follow-up."""

    def name(self) -> str:
        return "action_ask_description"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("description_draft"):
            dispatcher.utter_message(response="utter_description_more")
        else:
            dispatcher.utter_message(response="utter_ask_description")
        return []


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
    return [
        *reset(CLAIM_SLOTS),
        SlotSet("description_draft", None),
        SlotSet("submission_pending", False),
    ]


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
            SlotSet("claim_draft", None),
            SlotSet("last_claim_number", claim.claim_number),
            SlotSet("goal", None),
        ]


class ActionCancel(Action):
    """Stops whatever was being filled in. Nothing is filed; what the report already
    holds is kept aside (claim_draft) and said, so "要不还是报了吧" takes it up again."""

    def name(self) -> str:
        return "action_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        draft = {slot: tracker.get_slot(slot) for slot in BASE_SLOTS if tracker.get_slot(slot)}
        if draft:
            dispatcher.utter_message(
                response="utter_cancelled_kept",
                kept="、".join(FIELD_NAMES[slot] for slot in BASE_SLOTS if slot in draft),
            )
        else:
            dispatcher.utter_message(response="utter_cancelled")
        return [
            *_claim_reset(),
            *reset(DOCUMENT_SLOTS),
            *reset(SURVEY_SLOTS),
            *reset(("policy_number", "id_last4", "description_draft")),
            SlotSet("claim_draft", draft or tracker.get_slot("claim_draft")),
            SlotSet("has_attachments", False),
            SlotSet("goal", None),
            SlotSet("requested_slot", None),
        ]
