"""Start Rasa (same arguments as the `rasa` command) with three costs of every turn cut,
found with py-spy under `bench/turn_bench.py`; what Rasa does is unchanged.

    .venv-bot/bin/python -m bot.server run --model models/claims.tar.gz ...

1. The action server's answers are checked by one validator built once, instead of
   one built per answer (below).
2. Calls to the action server share one HTTP client per endpoint and event loop (kept-
   alive connections), instead of a new aiohttp session and TCP connection per call;
   the tracker they send is encoded by ujson (Sanic's) instead of the json module.
3. An event's class is looked up by its type name in a table, instead of walking every
   subclass of Event for each event of each tracker read from the store.
4. Saving a tracker to the shared Redis store (several replicas) merges it with the
   stored one by looking each event up in a set, instead of comparing it with every
   event already merged (quadratic in the conversation's length; 12% of Rasa's CPU on
   the scaled topology's WeChat turns). Same events kept, in the same order.

Rasa 3.6 checks every answer of the action server with `jsonschema.validate(answer,
schema)`, which first checks the (constant) schema against JSON Schema's meta-schema
and builds a new validator. Measured with py-spy under `bench/turn_bench.py`, that
was 38% of Rasa's CPU on a turn of our mix (a form turn calls the action server two
or three times): more than the NLU and the dialogue policies together. The answers are
still checked against the same schema, with the same error (message included) when one
does not match; only the repeated meta-schema check and set-up are gone.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import aiohttp
import ujson
from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

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


# An idle kept-alive connection is dropped by the client well before Sanic (the action
# server) closes it after 5 s, so a request never goes out on a connection the server
# is closing.
KEEPALIVE_SECONDS = 2.0
_ENCODE = functools.partial(ujson.dumps, ensure_ascii=False, escape_forward_slashes=False)


class _Kept:
    """`async with endpoint.session() as s`: the shared session, left open at exit."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *_exc: object) -> None:
        return None


def shared_session(self: EndpointConfig) -> _Kept:
    """EndpointConfig.session with one ClientSession per endpoint and event loop: same
    headers, basic auth and timeout as Rasa's own."""
    loop = asyncio.get_running_loop()
    sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = self.__dict__.setdefault(
        "_shared_sessions", {}
    )
    session = sessions.get(loop)
    if session is None or session.closed:
        auth = (
            aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
            if self.basic_auth
            else None
        )
        session = aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
            json_serialize=_ENCODE,
        )
        sessions[loop] = session
    return _Kept(session)


async def close_shared_sessions(endpoint: EndpointConfig) -> None:
    """Close the endpoint's shared sessions (tests; Rasa's process simply ends)."""
    for session in endpoint.__dict__.pop("_shared_sessions", {}).values():
        await session.close()


_ORIGINAL_RESOLVE = Event.resolve_by_type
_EVENT_TYPES: dict[str, type[Event]] = {}


def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """Event.resolve_by_type, the class found remembered by its type name."""
    found = _EVENT_TYPES.get(type_name)
    if found is None:
        found = _ORIGINAL_RESOLVE(type_name, default)
        # Only a class found by its own name (not the default, not old "topic" events).
        if found is not None and found.type_name == type_name:
            _EVENT_TYPES[type_name] = found
    return found


def _frozen(value: Any) -> Any:
    """A hashable value equal to another's exactly when the values are equal."""
    if isinstance(value, dict):
        return frozenset((key, _frozen(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


_ORIGINAL_MERGE = RedisTrackerStore._merge_trackers


def merge_trackers(
    prior_tracker: DialogueStateTracker, tracker: DialogueStateTracker
) -> DialogueStateTracker:
    """RedisTrackerStore._merge_trackers, each event's `as_dict()` looked up in a set of
    those already merged instead of compared with each of them."""
    if not prior_tracker.events:
        return tracker
    last_event_timestamp = prior_tracker.events[-1].timestamp
    past_tracker = tracker.travel_back_in_time(target_time=last_event_timestamp)
    if past_tracker.events == prior_tracker.events:
        return tracker
    merged = tracker.init_copy()
    merged.update_with_events(list(prior_tracker.events), override_timestamp=False, domain=None)
    try:
        seen = {_frozen(event.as_dict()) for event in merged.events}
    except TypeError:  # a value that cannot be hashed: Rasa's own way
        return _ORIGINAL_MERGE(prior_tracker, tracker)
    for new_event in tracker.events:
        key = _frozen(new_event.as_dict())
        if key not in seen:
            merged.update(new_event)
            seen.add(key)
    return merged


def install() -> None:
    """Use the cheaper parts in this process (idempotent)."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    EndpointConfig.session = shared_session  # type: ignore[assignment,method-assign]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[assignment,method-assign]
    RedisTrackerStore._merge_trackers = staticmethod(merge_trackers)  # type: ignore[assignment,method-assign]


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
