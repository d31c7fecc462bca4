"""One vocabulary: the action server uses backend/domain's definitions, and the domain
has a sentence for every value in them. A status, claim type or checklist item added
there fails here until the bot can talk about it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from actions import normalize
from actions.backend_client import OPEN_FOR_DOCUMENTS
from backend.domain.checklist import ITEM_NAMES
from backend.domain.types import ClaimStatus, ClaimType, NoticeChannel
from tests.bot.helpers import DOMAIN, ROOT


def test_the_domain_package_imports_nothing_from_outside_the_standard_library() -> None:
    # A fresh interpreter, as the action server starts: from the repo root, no conftest.
    probe = (
        "import json, sys; before = set(sys.modules); "
        "import backend.domain.types, backend.domain.checklist; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
    )
    outside = [
        name
        for name in loaded
        if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "backend"
    ]
    assert outside == []
    assert "backend.core" not in loaded and not any(n.startswith("backend.core.") for n in loaded)


@pytest.mark.parametrize("status", list(ClaimStatus))
def test_every_status_has_a_sentence(status: ClaimStatus) -> None:
    assert f"utter_status_{status}" in DOMAIN["responses"]


@pytest.mark.parametrize("claim_type", list(ClaimType))
def test_every_claim_type_is_understood_and_has_sentences(claim_type: ClaimType) -> None:
    assert claim_type.value in normalize.CLAIM_TYPES
    assert normalize.parse_claim_type(claim_type.value) == claim_type
    for name in (f"utter_checklist_{claim_type}", f"utter_claim_type_not_covered_{claim_type}"):
        assert name in DOMAIN["responses"]
    summaries = DOMAIN["responses"]["utter_claim_summary"]
    assert any(
        condition["value"] == claim_type
        for variation in summaries
        for condition in variation.get("condition", [])
    )
    buttons = [b["payload"] for b in DOMAIN["responses"]["utter_ask_claim_type"][0]["buttons"]]
    assert f'/inform{{"claim_type":"{claim_type}"}}' in buttons


def test_every_checklist_item_has_words() -> None:
    for code, name in ITEM_NAMES.items():
        items = [{"code": code, "name": name}]
        assert normalize.match_document_item(name, items) == code
        assert normalize.names_a_document(name), name


def test_statuses_open_for_documents_are_statuses() -> None:
    assert all(status in set(ClaimStatus) for status in OPEN_FOR_DOCUMENTS)


@pytest.mark.parametrize("channel", [NoticeChannel.SMS, NoticeChannel.WECHAT])
def test_every_channel_a_customer_can_choose_has_a_confirmation(channel: NoticeChannel) -> None:
    assert f"utter_notify_by_{channel}" in DOMAIN["responses"]
    payloads = [b["payload"] for b in DOMAIN["responses"]["utter_notify_which"][0]["buttons"]]
    assert f'/notice_preference{{"notice_channel":"{channel}"}}' in payloads
