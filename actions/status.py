"""Claim status in plain words: what is missing and what happens next, by when.

action_claim_status answers "我的理赔怎么样了" (all the customer's claims, or the one
named). Proactive notices are not composed here: the app renders the domain's
`utter_notice_<kind>` responses from the change its outbox row announces, and appends
them to the tracker as the bot's words.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendRefusal,
    BackendUnavailable,
    Claim,
    PublicSettings,
)
from actions.common import (
    backend_for,
    entities_of,
    last_user_message,
    public_settings,
)
from actions.normalize import (
    find_claim_numbers,
    join_names,
    money,
    parse_claim_number,
)
from backend.domain.types import ClaimStatus

# More than this and the answer stops being readable on a phone; newest first.
MAX_CLAIMS_SHOWN = 5


def claim_variables(claim: Claim, settings: PublicSettings) -> dict[str, Any]:
    return {
        "claim_number": claim.claim_number,
        "incident_date": claim.incident_date or "",
        "missing_items": join_names(item.name for item in claim.missing),
        "decision_due": claim.decision_due or "",
        "payment_due": claim.payment_due or "",
        "approved_amount": money(claim.approved_amount) if claim.approved_amount else "",
        "payout_amount": money(claim.payout_amount or claim.approved_amount or "0"),
        "decision_days": settings.decision_days,
        "payment_days": settings.payment_days,
    }


def status_response(claim: Claim) -> str:
    """The response that tells this claim's state and the next step."""
    try:
        status = ClaimStatus(claim.status)
    except ValueError:  # a status newer than this action server
        return "utter_status_unknown"
    if status in (ClaimStatus.REPORTED, ClaimStatus.DOCUMENTS_PENDING) and not claim.missing:
        status = ClaimStatus.UNDER_REVIEW  # everything arrived, review is about to start
    if status is ClaimStatus.REOPENED and not claim.missing:
        return "utter_status_reopened_complete"
    if status is ClaimStatus.UNDER_REVIEW and not claim.decision_due:
        return "utter_status_under_review_no_date"
    if status is ClaimStatus.APPROVED and not claim.payment_due:
        return "utter_status_approved_no_date"
    return f"utter_status_{status.value}"


def _requested_claim_number(tracker: Tracker) -> str | None:
    """A claim number named in the status question (asked before verification, too)."""
    question = last_user_message(tracker, ["query_claim_status"])
    if question is None:
        return None
    named = entities_of(question).get("claim_number")
    return parse_claim_number(named) or next(iter(find_claim_numbers(question["text"])), None)


def _newest_first(claims: list[Claim]) -> list[Claim]:
    return sorted(
        claims, key=lambda claim: (claim.incident_date or "", claim.claim_number), reverse=True
    )


class ActionClaimStatus(Action):
    def name(self) -> str:
        return "action_claim_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        claim_number = _requested_claim_number(tracker)
        try:
            async with backend_for(tracker) as backend:
                if claim_number:
                    claims = [await backend.get_claim(claim_number)]
                else:
                    claims = await backend.list_claims()
        except BackendRefusal as refusal:
            if refusal.code == "not_found":
                dispatcher.utter_message(
                    response="utter_claim_not_found", claim_number=claim_number or ""
                )
                return []
            if refusal.code == "not_verified":
                dispatcher.utter_message(response="utter_identity_expired")
                return [SlotSet("verified", False)]
            dispatcher.utter_message(response="utter_backend_unavailable")
            return []
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_backend_unavailable")
            return []

        if not claims:
            dispatcher.utter_message(response="utter_no_claims")
            return []
        settings = await public_settings(tracker)
        shown = _newest_first(claims)[:MAX_CLAIMS_SHOWN]
        if len(claims) > 1:
            dispatcher.utter_message(response="utter_claims_overview", count=len(claims))
        for claim in shown:
            dispatcher.utter_message(
                response=status_response(claim), **claim_variables(claim, settings)
            )
        return []
