"""Claim status in plain words: what is missing and what happens next, by when.

action_claim_status answers "我的理赔怎么样了" (all the customer's claims, or the one
named); action_claim_update composes a proactive notice for EXTERNAL_claim_update,
which the backend's notification worker triggers with entities `claim_number` and
`event` (e.g. `status_changed`, `documents_reminder`).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendError,
    BackendRefusal,
    BackendUnavailable,
    Claim,
    PublicSettings,
)
from actions.common import (
    backend_for,
    entities_of,
    last_user_message,
    latest_entities,
    public_settings,
)
from actions.normalize import (
    entity_values,
    find_claim_numbers,
    join_names,
    money,
    parse_claim_number,
)

logger = logging.getLogger(__name__)

# More than this and the answer stops being readable on a phone; newest first.
MAX_CLAIMS_SHOWN = 5

KNOWN_STATUSES = frozenset(
    {"reported", "documents_pending", "under_review", "approved", "partially_approved",
     "rejected", "paid", "closed", "withdrawn", "reopened"}
)  # fmt: skip


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
    status = claim.status
    if status not in KNOWN_STATUSES:
        return "utter_status_unknown"
    if status in ("reported", "documents_pending") and not claim.missing:
        status = "under_review"  # everything arrived, review is about to start
    if status == "reopened" and not claim.missing:
        return "utter_status_reopened_complete"
    if status == "under_review" and not claim.decision_due:
        return "utter_status_under_review_no_date"
    if status == "approved" and not claim.payment_due:
        return "utter_status_approved_no_date"
    return f"utter_status_{status}"


def update_response(claim: Claim, event: str | None) -> str:
    """The proactive notice for what changed; a reminder says what to send."""
    if event == "documents_reminder" and claim.missing:
        return "utter_update_documents_pending"
    status = claim.status
    if status not in KNOWN_STATUSES:
        return "utter_update_generic"
    if status in ("reported", "documents_pending") and not claim.missing:
        status = "under_review"
    if status == "under_review" and not claim.decision_due:
        return "utter_update_under_review_no_date"
    return f"utter_update_{status}"


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


class ActionClaimUpdate(Action):
    def name(self) -> str:
        return "action_claim_update"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        entities = entity_values(latest_entities(tracker))
        claim_number = parse_claim_number(entities.get("claim_number"))
        event = entities.get("event")
        if not claim_number:
            dispatcher.utter_message(response="utter_update_generic_no_number")
            return []
        try:
            async with backend_for(tracker) as backend:
                claim = await backend.get_claim(claim_number)
        except BackendError as error:
            # The notice still goes out, without details it could not fetch.
            logger.info("claim update for %s without details: %s", claim_number, error)
            dispatcher.utter_message(response="utter_update_generic", claim_number=claim_number)
            return []
        settings = await public_settings(tracker)
        dispatcher.utter_message(
            response=update_response(claim, event), **claim_variables(claim, settings)
        )
        return []
