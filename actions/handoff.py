"""Hand the conversation to a person: the backend opens the handoff (the app then
routes the customer's messages to the agent console instead of the bot).

An opened handoff also puts a marker among the turn's messages (`HANDOFF_MARKER`, a
custom message the customer never sees): the app looks up what the turn did to the
handoff only when it is there, instead of on every turn."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError
from actions.common import backend_for, latest_intent

REASON_BY_INTENT = {
    "request_human": "request_human",
    "complain": "complain",
    "nlu_fallback": "fallback",
}
# Rasa's REST answer carries it as {"custom": {HANDOFF_MARKER: status}}; the app's
# gateway (backend/conversations/gateway.py) takes it out before anything is sent.
HANDOFF_MARKER = "claims_handoff"
RESPONSE_BY_REASON = {
    "request_human": "utter_handoff",
    "complain": "utter_handoff_complaint",
    "fallback": "utter_handoff_fallback",
}


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reason = REASON_BY_INTENT.get(latest_intent(tracker) or "", "request_human")
        try:
            async with backend_for(tracker) as backend:
                status = await backend.open_handoff(reason)
        except BackendError:
            dispatcher.utter_message(response="utter_handoff_failed")
            return []
        dispatcher.utter_message(json_message={HANDOFF_MARKER: status})
        if status == "callback":
            # Outside service hours: the app tells the customer when someone will get
            # back to them, and the bot carries on meanwhile. Promising a person "here,
            # shortly" would be untrue.
            return []
        dispatcher.utter_message(response=RESPONSE_BY_REASON[reason])
        return []
