"""bot/server.py: Rasa started through it checks the action server's answers exactly as
Rasa's own check does (same schema, same verdict, same error), with a validator built
once instead of once per answer."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot import server

ANSWERS_RASA_ACCEPTS: list[dict[str, Any]] = [
    {"events": [], "responses": []},
    {
        "events": [
            {"event": "slot", "name": "policy_number", "value": "P2025000001"},
            {"event": "active_loop", "name": "claim_form"},
            {"event": "slot", "name": "requested_slot", "value": "incident_date"},
        ],
        "responses": [{"text": "请问是哪天发生的？", "buttons": [{"title": "今天"}]}],
    },
    {"events": [{"event": "followup", "name": "action_listen"}]},
    {},
]

ANSWERS_RASA_REFUSES: list[Any] = [
    {"events": "slot policy_number"},
    {"events": [{"event": "slot"}]},  # a slot event names its slot
    {"events": [{"event": "no_such_event"}]},
    {"responses": "你好"},
    {"responses": ["你好"]},
    [],
]


def rasa_verdict(answer: Any) -> str | None:
    """What Rasa 3.6's own check says: None, or the error message it raises."""
    try:
        jsonschema.validate(answer, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as error:
        return error.message
    return None


@pytest.fixture
def action() -> RemoteAction:
    server.install()
    assert RemoteAction._validate_action_result is server.validate_action_result
    return RemoteAction("action_anything", None)


@pytest.mark.parametrize("answer", ANSWERS_RASA_ACCEPTS)
def test_answers_rasa_accepts_pass(action: RemoteAction, answer: dict[str, Any]) -> None:
    assert rasa_verdict(answer) is None
    assert action._validate_action_result(answer) is True


@pytest.mark.parametrize("answer", ANSWERS_RASA_REFUSES)
def test_answers_rasa_refuses_fail_with_rasas_message(action: RemoteAction, answer: Any) -> None:
    expected = rasa_verdict(answer)
    assert expected is not None
    with pytest.raises(jsonschema.ValidationError) as caught:
        action._validate_action_result(answer)
    assert caught.value.message.startswith(expected)
    assert "Failed to validate Action server response from API" in caught.value.message
