"""Documents: what to prepare, and attaching what the customer sends.

The channels store an uploaded file in the backend first and pass its id in the
message metadata: `{"attachments": [{"document_id": "d_…", "media_type": "image/jpeg"}]}`.
action_receive_documents keeps those ids; document_form finds the claim (the only open
one, or asks) and the checklist item (asks, offering the missing items as buttons);
action_attach_documents attaches them and says what is still missing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, BackendRefusal, BackendUnavailable, Claim
from actions.common import (
    DOCUMENT_SLOTS,
    DynamicFormValidationAction,
    backend_for,
    is_answer,
    last_user_message,
    latest_entities,
    latest_metadata,
    latest_text,
    public_settings,
    reset,
)
from actions.normalize import (
    CLAIM_TYPES,
    entity_values,
    join_names,
    match_document_item,
    names_a_document,
    parse_claim_number,
    parse_claim_type,
)

logger = logging.getLogger(__name__)


def attachments_from(metadata: dict[str, Any]) -> list[dict[str, str]]:
    items = metadata.get("attachments") if isinstance(metadata, dict) else None
    found: list[dict[str, str]] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        document_id = item.get("document_id")
        if isinstance(document_id, str) and document_id.strip():
            found.append(
                {
                    "document_id": document_id.strip(),
                    "media_type": str(item.get("media_type") or ""),
                }
            )
    return found


def latest_attachments(tracker: Tracker) -> list[dict[str, str]]:
    return attachments_from(latest_metadata(tracker))


def _merge(
    pending: list[dict[str, str]] | None, received: list[dict[str, str]]
) -> list[dict[str, str]]:
    merged = list(pending or [])
    known = {item.get("document_id") for item in merged}
    merged.extend(item for item in received if item["document_id"] not in known)
    return merged


def _button_payload(intent: str, entity: str, value: str) -> str:
    return f"/{intent}{json.dumps({entity: value}, ensure_ascii=False)}"


def _items_to_offer(claim: Claim) -> list[dict[str, str]]:
    """Missing items first; when none are missing, the whole checklist (a better photo)."""
    items = claim.missing or claim.checklist
    return [{"code": item.code, "name": item.name} for item in items]


async def open_claims(tracker: Tracker) -> list[Claim]:
    async with backend_for(tracker) as backend:
        return [claim for claim in await backend.list_claims() if claim.open_for_documents]


class ActionReceiveDocuments(Action):
    def name(self) -> str:
        return "action_receive_documents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        received = attachments_from(latest_metadata(tracker))
        if not received:
            # Photos already wait for a question (which claim, which item): the words
            # are the answer, not a request for instructions.
            if not tracker.get_slot("pending_attachments"):
                dispatcher.utter_message(response="utter_upload_instructions")
            return [SlotSet("has_attachments", False)]
        pending = _merge(tracker.get_slot("pending_attachments"), received)
        return [SlotSet("pending_attachments", pending), SlotSet("has_attachments", True)]


class ValidateDocumentForm(DynamicFormValidationAction):
    FORM_SLOTS = ("document_claim_number", "document_item")

    def name(self) -> str:
        return "validate_document_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = []
        if self.activating(tracker) and tracker.get_slot("pending_attachments"):
            try:
                claims = await open_claims(tracker)
            except BackendError:
                dispatcher.utter_message(response="utter_backend_unavailable")
                self.set_now(tracker, events, "pending_attachments", None)
                claims = None
            if claims is not None and not claims:
                dispatcher.utter_message(response="utter_no_open_claim_for_documents")
                self.set_now(tracker, events, "pending_attachments", None)
            elif claims and len(claims) == 1 and not tracker.get_slot("document_claim_number"):
                self.set_now(tracker, events, "document_claim_number", claims[0].claim_number)
        elif not self.activating(tracker):
            # More photos while we ask about the first: they join the batch.
            pending = tracker.get_slot("pending_attachments") or []
            merged = _merge(pending, latest_attachments(tracker))
            if merged != pending:
                self.set_now(tracker, events, "pending_attachments", merged)
        return events + await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if not tracker.slots.get("pending_attachments"):
            return []
        return list(self.FORM_SLOTS)

    async def extract_document_claim_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if self.requested(tracker) != "document_claim_number":
            return {}
        if entity_values(latest_entities(tracker)).get("claim_number"):
            return {}
        text = latest_text(tracker)
        found = parse_claim_number(text)
        if found:
            return {"document_claim_number": found}
        if names_a_document(text):
            return {}  # the item, said early (extract_document_item keeps it)
        return (
            {"document_claim_number": text.strip()} if is_answer(tracker) and text.strip() else {}
        )

    async def extract_document_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A caption that names the document ("这是发票" with the photo) answers the
        question before it is asked."""
        if self.activating(tracker):
            upload = last_user_message(tracker, ["upload_document"])
            caption = (upload or {}).get("text") or ""
        elif self.requested(tracker) == "document_claim_number":
            caption = latest_text(tracker)  # "费用明细" while we ask which claim
        else:
            return {}
        return {"document_item": caption} if names_a_document(caption) else {}

    async def validate_document_claim_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        claim_number = parse_claim_number(str(value or ""))
        try:
            numbers = [claim.claim_number for claim in await open_claims(tracker)]
        except BackendError:
            dispatcher.utter_message(response="utter_backend_unavailable")
            return {"document_claim_number": None, "pending_attachments": None}
        if claim_number not in numbers:
            dispatcher.utter_message(response="utter_document_claim_number_invalid")
            return {"document_claim_number": None}
        return {
            "document_claim_number": claim_number,
            **await self._recheck_caption(tracker, claim_number),
        }

    async def _recheck_caption(self, tracker: Tracker, claim_number: str) -> dict[str, Any]:
        """A caption kept before the claim was known, matched against its checklist."""
        caption = tracker.slots.get("document_item")
        if not caption:
            return {}
        try:
            async with backend_for(tracker) as backend:
                claim = await backend.get_claim(claim_number)
        except BackendError:
            return {"document_item": None}
        return {"document_item": match_document_item(caption, _items_to_offer(claim))}

    async def validate_document_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        claim_number = tracker.slots.get("document_claim_number")
        if not claim_number:
            # Which claim is asked first; a caption waits for it (_recheck_caption).
            return {"document_item": value if names_a_document(str(value or "")) else None}
        try:
            async with backend_for(tracker) as backend:
                claim = await backend.get_claim(claim_number)
        except BackendError:
            dispatcher.utter_message(response="utter_backend_unavailable")
            return {"document_item": None, "pending_attachments": None}
        item = match_document_item(str(value or ""), _items_to_offer(claim))
        if item is None:
            if not latest_attachments(tracker):  # a bare photo is no wrong answer
                dispatcher.utter_message(response="utter_document_item_invalid")
            return {"document_item": None}
        return {"document_item": item}


class ActionAskDocumentClaimNumber(Action):
    def name(self) -> str:
        return "action_ask_document_claim_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            claims = await open_claims(tracker)
        except BackendError:
            claims = []
        buttons = [
            {
                "title": f"{claim.claim_number} {claim.incident_date or ''}".strip(),
                "payload": _button_payload("inform", "claim_number", claim.claim_number),
            }
            for claim in claims
        ]
        dispatcher.utter_message(response="utter_ask_document_claim_number", buttons=buttons)
        return []


class ActionAskDocumentItem(Action):
    def name(self) -> str:
        return "action_ask_document_item"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        buttons: list[dict[str, str]] = []
        claim_number = tracker.get_slot("document_claim_number")
        try:
            if not claim_number:
                raise BackendUnavailable("no claim chosen yet")
            async with backend_for(tracker) as backend:
                claim = await backend.get_claim(claim_number)
            buttons = [
                {
                    "title": item["name"],
                    "payload": _button_payload("inform", "document_item", item["code"]),
                }
                for item in _items_to_offer(claim)
            ]
        except BackendError:
            pass  # the question still goes out; the answer is checked by name
        dispatcher.utter_message(response="utter_ask_document_item", buttons=buttons)
        return []


class ActionAttachDocuments(Action):
    def name(self) -> str:
        return "action_attach_documents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        done = [*reset(DOCUMENT_SLOTS), SlotSet("has_attachments", False), SlotSet("goal", None)]
        pending = tracker.get_slot("pending_attachments") or []
        claim_number = tracker.get_slot("document_claim_number")
        item_code = tracker.get_slot("document_item")
        if not pending or not claim_number or not item_code:
            return done  # the form already said why (no open claim, backend down)
        claim: Claim | None = None
        try:
            async with backend_for(tracker) as backend:
                for attachment in pending:
                    claim = await backend.attach_document(
                        claim_number, attachment["document_id"], item_code
                    )
        except BackendRefusal as refusal:
            if refusal.code == "not_on_checklist":
                dispatcher.utter_message(
                    response="utter_document_not_on_checklist", claim_number=claim_number
                )
            elif refusal.code == "document_not_found":
                dispatcher.utter_message(response="utter_document_file_missing")
            elif refusal.code == "not_found":
                dispatcher.utter_message(
                    response="utter_claim_not_found", claim_number=claim_number
                )
            else:
                dispatcher.utter_message(response="utter_document_attach_failed")
            return done
        except BackendUnavailable:
            dispatcher.utter_message(response="utter_document_attach_failed")
            return done
        assert claim is not None
        item_name = next(
            (item.name for item in claim.checklist if item.code == item_code), item_code
        )
        if claim.missing:
            dispatcher.utter_message(
                response="utter_documents_received_missing",
                claim_number=claim.claim_number,
                item_name=item_name,
                missing_items=join_names(item.name for item in claim.missing),
            )
        elif claim.decision_due:
            dispatcher.utter_message(
                response="utter_documents_complete",
                claim_number=claim.claim_number,
                decision_due=claim.decision_due,
            )
        else:
            settings = await public_settings(tracker)
            dispatcher.utter_message(
                response="utter_documents_complete_no_date",
                claim_number=claim.claim_number,
                decision_days=settings.decision_days,
            )
        return done


class ActionRequiredDocuments(Action):
    """What to prepare: the customer's own missing items once verified, else the
    general list for the claim type they named (or a question which type)."""

    def name(self) -> str:
        return "action_required_documents"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("verified"):
            try:
                async with backend_for(tracker) as backend:
                    claims = [
                        claim for claim in await backend.list_claims() if claim.open_for_documents
                    ]
            except BackendError:
                claims = []
            if claims:
                waiting = [claim for claim in claims if claim.missing]
                for claim in waiting:
                    dispatcher.utter_message(
                        response="utter_claim_missing_documents",
                        claim_number=claim.claim_number,
                        missing_items=join_names(item.name for item in claim.missing),
                    )
                if not waiting:
                    dispatcher.utter_message(response="utter_no_missing_documents")
                return []
        named = entity_values(latest_entities(tracker)).get("claim_type")
        claim_type = parse_claim_type(named) or parse_claim_type(latest_text(tracker))
        if claim_type in CLAIM_TYPES:
            dispatcher.utter_message(response=f"utter_checklist_{claim_type}")
        else:
            dispatcher.utter_message(response="utter_checklist_which_type")
        return []
