"""The ResponseSelector that picks an FAQ answer (utter_faq/<topic>), run only on
messages whose intent is its retrieval intent ("faq").

Rasa runs every component of the pipeline on every message. The selector's answer is
read only after the intent `faq` (rules and stories: `intent: faq` →
`action_answer_faq`), yet its TensorFlow model ran on every message: py-spy under
bench/turn_bench.py put it at about a tenth of Rasa's CPU on a turn of our mix, where
one message in eight is a question. Training, the model and the answer for an `faq`
message are the ResponseSelector's own; other messages simply carry no selection.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FaqResponseSelector(ResponseSelector):
    """ResponseSelector.process for the messages of its retrieval intent only."""

    def process(self, messages: list[Message]) -> list[Message]:
        asked = [message for message in messages if self._is_asked(message)]
        if asked:
            super().process(asked)
        return messages

    def _is_asked(self, message: Message) -> bool:
        if not self.retrieval_intent:
            return True  # a selector for every retrieval intent: as Rasa does
        intent = message.get(INTENT) or {}
        return intent.get(INTENT_NAME_KEY) == self.retrieval_intent
