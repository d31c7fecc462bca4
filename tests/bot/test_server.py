"""bot/server.py: Rasa started through it checks the action server's answers exactly as
Rasa's own check does (same schema, same verdict, same error), with a validator built
once instead of once per answer; finds each event's class as Rasa does; and calls the
action server as Rasa does (same body, headers, token, errors) on kept-alive
connections."""

from __future__ import annotations

import asyncio
from typing import Any

import jsonschema
import pytest
import rasa.shared.utils.common
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
    deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

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


# ------------------------------------------------------------ event types by name


def all_event_types() -> list[type[Event]]:
    return rasa.shared.utils.common.all_subclasses(Event)


@pytest.mark.parametrize("event_type", all_event_types(), ids=lambda c: c.__name__)
def test_an_event_type_is_found_as_rasa_finds_it(event_type: type[Event]) -> None:
    server.install()
    name = event_type.type_name
    expected = server._ORIGINAL_RESOLVE(name)
    assert Event.resolve_by_type(name) is expected
    assert Event.resolve_by_type(name) is expected  # remembered, the same again


def test_unknown_and_old_event_types_behave_as_in_rasa() -> None:
    server.install()
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
    # A tracker as the store keeps it reads back event for event.
    events = [
        UserUttered("你好", {"name": "greet"}),
        SlotSet("policy_number", "P1"),
        ActionExecuted("action_listen"),
    ]
    assert deserialise_events([e.as_dict() for e in events]) == events


# ------------------------------------------------------------ the action server's client


class ActionServer:
    """An action server on loopback that counts the TCP connections its calls came on."""

    def __init__(self) -> None:
        self.connections: set[tuple[str, int]] = set()
        self.bodies: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def webhook(self, request: web.Request) -> web.Response:
        self.connections.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
        self.bodies.append(await request.json())
        self.headers.append(dict(request.headers) | {"query": request.query_string})
        return web.json_response({"events": [], "responses": [{"text": "好的"}]})

    async def __aenter__(self) -> ActionServer:
        app = web.Application()
        app.router.add_post("/webhook", self.webhook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/webhook"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_calls_to_the_action_server_share_a_kept_alive_connection() -> None:
    server.install()
    tracker = {"sender_id": "wechat:o-1", "latest_message": {"text": "我要报案 / 住院"}}
    async with ActionServer() as actions:
        endpoint = EndpointConfig(actions.url, headers={"X-Bot": "claims"}, token="s3cret")
        answers = [await endpoint.request(json={"tracker": tracker, "n": n}) for n in range(5)]
        assert answers == [{"events": [], "responses": [{"text": "好的"}]}] * 5
        assert actions.bodies == [{"tracker": tracker, "n": n} for n in range(5)]
        assert len(actions.connections) == 1, actions.connections
        # Rasa's own headers and token go with every call.
        assert all(h.get("X-Bot") == "claims" for h in actions.headers)
        assert all("token=s3cret" in h["query"] for h in actions.headers)
        # Idle past the keep-alive, the next call opens a new connection, without error.
        await asyncio.sleep(server.KEEPALIVE_SECONDS + 0.5)
        assert await endpoint.request(json={"n": 5}) is not None
        assert len(actions.connections) == 2
        await server.close_shared_sessions(endpoint)


async def test_an_action_server_error_is_raised_as_in_rasa() -> None:
    server.install()
    async with ActionServer() as actions:
        endpoint = EndpointConfig(actions.url.replace("/webhook", "/nowhere"))
        with pytest.raises(ClientResponseError) as caught:
            await endpoint.request(json={})
        assert caught.value.status == 404
        await server.close_shared_sessions(endpoint)


# ------------------------------------------------------------ merging a saved tracker


def _events(start: int, count: int) -> list[Event]:
    kinds = [
        lambda t: UserUttered(f"第{t}句", {"name": "inform", "confidence": 0.9}, timestamp=t),
        lambda t: SlotSet("policy_number", f"P{t}", timestamp=t),
        lambda t: ActionExecuted("action_listen", timestamp=t),
        lambda t: BotUttered("好的", {"buttons": [{"title": "是"}]}, timestamp=t),
    ]
    return [kinds[t % len(kinds)](float(t)) for t in range(start, start + count)]


def _tracker(events: list[Event]) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("wechat:o-merge", events)


@pytest.mark.parametrize(
    ("prior", "latest"),
    [
        (_events(0, 6), _events(3, 3) + _events(6, 4)),  # the latest session only, then more
        (_events(0, 6), _events(0, 6) + _events(6, 2)),  # nothing new before: the fast path
        (_events(0, 4), _events(2, 2) + _events(2, 2) + _events(9, 3)),  # repeats
        (_events(0, 5), list(reversed(_events(0, 5))) + _events(5, 1)),  # out of order
        ([], _events(0, 3)),
    ],
)
def test_a_saved_tracker_is_merged_as_rasa_merges_it(
    prior: list[Event], latest: list[Event]
) -> None:
    server.install()
    expected = server._ORIGINAL_MERGE(_tracker(prior), _tracker(latest))
    merged = RedisTrackerStore._merge_trackers(_tracker(prior), _tracker(latest))
    assert [e.as_dict() for e in merged.events] == [e.as_dict() for e in expected.events]
    assert merged.current_slot_values() == expected.current_slot_values()
