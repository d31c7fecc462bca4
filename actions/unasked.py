"""An answer to no question: a message the NLU calls `inform` while no form runs.

When it tells an incident ("昨天在医院看急诊花了三千五", with or without who they are),
the customer is reporting: `goal` becomes report_claim and the rules start the report
(verifying first when needed; the forms read the message from the history). Anything
else gets the menu, as before.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_text
from actions.identity import tells_a_story


class ActionUnaskedAnswer(Action):
    def name(self) -> str:
        return "action_unasked_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tells_a_story(latest_text(tracker)):
            return [SlotSet("goal", "report_claim")]
        dispatcher.utter_message(response="utter_how_can_i_help")
        return [SlotSet("goal", None)]
