"""Short messages that are, once stripped of punctuation, emoji, spaces and filler
particles, exactly a training example of one intent: that intent, with confidence 1.

Why: the statistical classifier spreads its probability over 19 intents, so a
one-word message it was trained on ("报案", "转人工", a button title typed by hand)
can still come out below the fallback threshold or close to a neighbour. Customers
type these words exactly, with "。", "!!", "🙏" or "啊" around them; the answer must
not depend on that. Everything else is left to the classifier before it.

The table is built from the NLU training data at training time (examples of more than
one intent are dropped), so there is no second list of phrases to keep in step.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file

MAX_CHARS = 16
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
_FILLER_START = re.compile(r"^(?:那个|嗯+|呃+|额+|哦+|噢+|请问|麻烦|亲)")
_FILLER_END = re.compile(r"(?:啊|呀|吧|呢|哦|噢|嘛|哈|啦|喔|哇|了吧|一下吧)+$")


def key_of(text: str | None) -> str:
    """The comparable form of a short message ('' for a long one)."""
    value = unicodedata.normalize("NFKC", text or "").lower()
    value = _NOT_WORD.sub("", value)  # punctuation, emoji, spaces
    value = _FILLER_END.sub("", _FILLER_START.sub("", value)) or value
    return value if 0 < len(value) <= MAX_CHARS else ""


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class ShortMessageClassifier(GraphComponent, IntentClassifier):
    """Overrides the intent of a short message that is a known example (see module)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        table: dict[str, str] | None = None,
    ) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self.table = table or {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ShortMessageClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        seen: dict[str, set[str]] = {}
        for example in training_data.intent_examples:
            key = key_of(example.get(TEXT))
            intent = example.get(INTENT)
            if key and intent:
                seen.setdefault(key, set()).add(intent)
        self.table = {key: next(iter(intents)) for key, intents in seen.items() if len(intents) == 1}
        with self._model_storage.write_to(self._resource) as directory:
            dump_obj_as_json_to_file(directory / "short_messages.json", self.table)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ShortMessageClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                table = read_json_file(directory / "short_messages.json")
        except ValueError:
            table = {}
        return cls(config, model_storage, resource, table)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = self.table.get(key_of(message.get(TEXT)))
            if intent is None:
                continue
            ranking = [
                {**item, "confidence": 0.0}
                for item in message.get(INTENT_RANKING_KEY) or []
                if item.get("name") != intent
            ]
            message.set(INTENT, {"name": intent, "confidence": 1.0}, add_to_output=True)
            message.set(
                INTENT_RANKING_KEY,
                [{"name": intent, "confidence": 1.0}, *ranking],
                add_to_output=True,
            )
        return messages
