"""Start Rasa (same arguments as the `rasa` command) with the action server's answers
checked by one validator built once, instead of one built per answer.

    .venv-bot/bin/python -m bot.server run --model models/claims.tar.gz ...

Rasa 3.6 checks every answer of the action server with `jsonschema.validate(answer,
schema)`, which first checks the (constant) schema against JSON Schema's meta-schema
and builds a new validator. Measured with py-spy under `bench/turn_bench.py`, that
was 38% of Rasa's CPU on a turn of our mix (a form turn calls the action server two
or three times): more than the NLU and the dialogue policies together. The answers are
still checked against the same schema, with the same error (message included) when one
does not match; only the repeated meta-schema check and set-up are gone.
"""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_SCHEMA = RemoteAction.action_response_format_spec()
_VALIDATOR_CLASS: Any = validator_for(_SCHEMA)
_VALIDATOR_CLASS.check_schema(_SCHEMA)  # once, as jsonschema.validate does every time
_VALIDATOR = _VALIDATOR_CLASS(_SCHEMA)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the validator built once."""
    error: ValidationError | None = best_match(_VALIDATOR.iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    """Use the prebuilt validator in this process (idempotent)."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
