"""bot/endpoints-scaled.yml as Rasa reads it, with the variables the app's settings give
(`python -m backend.cli rasa-stores`): two Rasa processes built from it share one
tracker and one lock per conversation in the real Redis (127.0.0.1:6379).

Each "replica" here is a store built from the file the way `rasa run` builds it
(`AvailableEndpoints.read_endpoints`, `LockStore.create`, `TrackerStore.create`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from pathlib import Path

import pytest
import redis
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import RedisTrackerStore, TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

ROOT = Path(__file__).resolve().parents[2]
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
REDIS_URL = "redis://127.0.0.1:6379/0"


def rasa_store_exports(prefix: str) -> dict[str, str]:
    """What run-scaled.sh evaluates: the app's CLI, from REDIS_URL and the prefix."""
    env = {**os.environ, "REDIS_URL": REDIS_URL, "RASA_STORE_KEY_PREFIX": prefix}
    env.pop("VIRTUAL_ENV", None)
    printed = subprocess.run(
        [str(APP_PYTHON), "-m", "backend.cli", "rasa-stores"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    exports = {}
    for line in printed.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = value.strip("'")
    return exports


@pytest.fixture
def endpoints(monkeypatch: pytest.MonkeyPatch):
    prefix = "test" + secrets.token_hex(4)
    exports = rasa_store_exports(prefix)
    assert exports["RASA_ENDPOINTS"] == "bot/endpoints-scaled.yml"
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:5055/webhook")
    client = redis.Redis.from_url(REDIS_URL)
    yield AvailableEndpoints.read_endpoints(str(ROOT / exports["RASA_ENDPOINTS"])), prefix, client
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


async def test_two_replicas_take_turns_of_one_conversation_one_at_a_time(endpoints) -> None:
    config, prefix, client = endpoints
    replica_a, replica_b = LockStore.create(config.lock_store), LockStore.create(config.lock_store)
    assert isinstance(replica_a, RedisLockStore)
    # Rasa drops a prefix that is not alphanumeric with only a warning: ours holds.
    assert replica_a.key_prefix == f"{prefix}:lock:"

    order: list[str] = []

    async def turn(
        store: LockStore, name: str, seconds: float, conversation: str = "wechat:o-1"
    ) -> None:
        async with store.lock(conversation, wait_time_in_seconds=0.02):
            order.append(f"{name} starts")
            await asyncio.sleep(seconds)
            order.append(f"{name} ends")

    first = asyncio.create_task(turn(replica_a, "a", 0.3))
    await asyncio.sleep(0.05)
    assert client.exists(f"{prefix}:lock:wechat:o-1"), "the lock is not in the shared Redis"
    await asyncio.gather(first, turn(replica_b, "b", 0.0), turn(replica_b, "other", 0.0))
    assert order[:2] == ["a starts", "a ends"]
    assert sorted(order[2:]) == ["b ends", "b starts", "other ends", "other starts"]
    # Another conversation is not held up by this one's lock.
    async with replica_a.lock("wechat:o-1"):
        await asyncio.wait_for(turn(replica_b, "o-2", 0.0, "wechat:o-2"), timeout=2)
    assert order[-2:] == ["o-2 starts", "o-2 ends"]


async def test_a_tracker_saved_by_one_replica_is_read_and_extended_by_the_other(
    endpoints,
) -> None:
    config, prefix, client = endpoints
    domain = Domain.empty()
    replica_a = TrackerStore.create(config.tracker_store, domain)
    replica_b = TrackerStore.create(config.tracker_store, domain)
    assert isinstance(replica_a, RedisTrackerStore)

    tracker = DialogueStateTracker("sms:+8613800000000", domain.slots)
    tracker.update(UserUttered("我要报案"))
    tracker.update(ActionExecuted("utter_ask_claim_type"))
    tracker.update(BotUttered("请问是哪类理赔？"))
    await replica_a.save(tracker)

    key = f"{prefix}:tracker:sms:+8613800000000"
    assert 0 < client.ttl(key) <= 30 * 86400, "the tracker does not expire as configured"

    # What the app's notices do through Rasa's HTTP API (POST .../tracker/events): the
    # replica that takes it reads the tracker, appends a bot event and saves.
    seen = await replica_b.retrieve("sms:+8613800000000")
    assert seen is not None
    assert [e.text for e in seen.events if isinstance(e, UserUttered)] == ["我要报案"]
    seen.update(BotUttered("您的理赔已受理", metadata={"sender": "system"}))
    await replica_b.save(seen)

    back = await replica_a.retrieve("sms:+8613800000000")
    assert back is not None
    assert [e.text for e in back.events if isinstance(e, BotUttered)] == [
        "请问是哪类理赔？",
        "您的理赔已受理",
    ]


def test_an_unset_variable_stops_rasa_instead_of_an_in_memory_store(monkeypatch) -> None:
    monkeypatch.delenv("RASA_REDIS_HOST", raising=False)
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:5055/webhook")
    with pytest.raises(Exception, match="RASA_REDIS_HOST"):
        AvailableEndpoints.read_endpoints(str(ROOT / "bot" / "endpoints-scaled.yml"))
