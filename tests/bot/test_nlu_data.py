"""The NLU training data against the tokenizer it is trained with.

An entity annotation that does not cover whole Jieba tokens is silently dropped by
Rasa ("Misaligned entity annotation"), so check every one here, with the same
dictionary the JiebaTokenizer loads from bot/dictionary.
"""

from __future__ import annotations

import collections
import glob
import logging
from pathlib import Path

import jieba
import pytest
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

ROOT = Path(__file__).resolve().parents[2]
MAIN_INTENTS = [
    "greet", "goodbye", "thank", "affirm", "deny", "report_claim", "query_claim_status",
    "ask_required_documents", "upload_document", "inform", "request_human", "complain",
    "rate_service", "cancel", "bot_challenge", "out_of_scope", "notice_preference",
]  # fmt: skip

pytestmark = pytest.mark.nlu_data


@pytest.fixture(scope="module")
def training_data() -> TrainingData:
    return load_data(str(ROOT / "data" / "nlu"), language="zh")


@pytest.fixture(scope="module")
def tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    for path in sorted(glob.glob(str(ROOT / "bot" / "dictionary" / "*"))):
        tok.load_userdict(path)
    return tok


def test_entity_annotations_cover_whole_tokens(
    training_data: TrainingData, tokenizer: jieba.Tokenizer
) -> None:
    misaligned: list[tuple[str, str]] = []
    for example in training_data.training_examples:
        text = example.get("text")
        tokens = list(tokenizer.tokenize(text))
        starts = {start for _, start, _ in tokens}
        ends = {end for _, _, end in tokens}
        for entity in example.get("entities") or []:
            if entity["start"] not in starts or entity["end"] not in ends:
                shown = " / ".join(word for word, _, _ in tokens)
                misaligned.append(
                    (text, f"{entity['entity']}={text[entity['start'] : entity['end']]} in {shown}")
                )
    assert misaligned == [], "\n".join(f"{text}: {problem}" for text, problem in misaligned)


def test_main_intents_have_forty_examples(training_data: TrainingData) -> None:
    counts = collections.Counter(example.get("intent") for example in training_data.intent_examples)
    too_few = {intent: counts[intent] for intent in MAIN_INTENTS if counts[intent] < 40}
    assert too_few == {}


def test_no_example_under_two_intents(training_data: TrainingData) -> None:
    labels = collections.defaultdict(set)
    for example in training_data.intent_examples:
        key = example.get("text").strip().lower()
        labels[key].add(example.get_full_intent())
    clashes = {text: sorted(intents) for text, intents in labels.items() if len(intents) > 1}
    assert clashes == {}


def test_every_faq_answer_has_examples(training_data: TrainingData) -> None:
    import yaml

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    answers = {
        name.split("/", 1)[1] for name in domain["responses"] if name.startswith("utter_faq/")
    }
    asked = {
        example.get_full_intent().split("/", 1)[1]
        for example in training_data.intent_examples
        if example.get("intent") == "faq"
    }
    assert answers == asked
