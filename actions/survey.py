"""Satisfaction follow-up (回访): a 1–5 rating and an optional comment, stored by the
backend. Started by the backend (EXTERNAL_survey, entity claim_number) or by the
customer (rate_service, possibly with the rating in the same message: 五星好评).
A claim is rated once: the backend refuses a second rating with 409 `survey_exists`."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, BackendRefusal
from actions.common import (
    SURVEY_SLOTS,
    DynamicFormValidationAction,
    backend_for,
    is_answer,
    latest_intent,
    latest_text,
    reset,
)
from actions.normalize import clean, parse_rating

NO_COMMENT = "-"
_NO_COMMENT_WORDS = {
    "没有",
    "没",
    "无",
    "没了",
    "没有了",
    "不用",
    "不用了",
    "算了",
    "no",
    "none",
    "nope",
    "没啥",
    "没什么",
}
MAX_COMMENT = 500


class ValidateSurveyForm(DynamicFormValidationAction):
    FORM_SLOTS = ("survey_rating", "survey_comment")

    def name(self) -> str:
        return "validate_survey_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return list(self.FORM_SLOTS)

    async def extract_survey_rating(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        if self.activating(tracker):
            rating = parse_rating(text) if latest_intent(tracker) == "rate_service" else None
            return {"survey_rating": str(rating)} if rating else {}
        if self.requested(tracker) != "survey_rating":
            return {}
        rating = parse_rating(text)
        if rating:
            return {"survey_rating": str(rating)}
        if latest_intent(tracker) == "rate_service" or (
            is_answer(tracker, ["deny"]) and text.strip()
        ):
            return {"survey_rating": text.strip()}  # validate_survey_rating explains
        return {}

    async def validate_survey_rating(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        rating = parse_rating(str(value or ""))
        if rating is None or not 1 <= rating <= 5:
            dispatcher.utter_message(response="utter_survey_rating_invalid")
            return {"survey_rating": None}
        return {"survey_rating": str(rating)}

    async def validate_survey_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        comment = clean(str(value or ""))
        if (
            not comment
            or comment.lower().strip("。.!！ ") in _NO_COMMENT_WORDS
            or latest_intent(tracker) == "deny"
        ):
            return {"survey_comment": NO_COMMENT}
        return {"survey_comment": comment[:MAX_COMMENT]}


class ActionSubmitSurvey(Action):
    def name(self) -> str:
        return "action_submit_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        rating = parse_rating(str(tracker.get_slot("survey_rating") or ""))
        comment = tracker.get_slot("survey_comment")
        if rating is None:
            dispatcher.utter_message(response="utter_survey_declined")
            return reset(SURVEY_SLOTS)
        try:
            async with backend_for(tracker) as backend:
                await backend.submit_survey(
                    rating,
                    comment=None if comment in (None, NO_COMMENT) else comment,
                    claim_number=tracker.get_slot("survey_claim_number")
                    or tracker.get_slot("last_claim_number"),
                )
        except BackendRefusal as refusal:
            if refusal.code == "survey_exists":
                dispatcher.utter_message(response="utter_survey_already_done")
            else:
                dispatcher.utter_message(response="utter_survey_save_failed")
            return reset(SURVEY_SLOTS)
        except BackendError:
            dispatcher.utter_message(response="utter_survey_save_failed")
            return reset(SURVEY_SLOTS)
        dispatcher.utter_message(
            response="utter_survey_thanks_low" if rating <= 2 else "utter_survey_thanks"
        )
        return reset(SURVEY_SLOTS)
