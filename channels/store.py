"""A tiny key-value store with expiry: in-process, or Redis shared by all replicas.

Dedup marks, turn replies, numbered-button maps and the WeChat access token all live
here, so one switch (REDIS_URL) makes all of them shared across app replicas.
"""

from __future__ import annotations

import time
from typing import Protocol

from redis.asyncio import Redis


class KeyValueStore(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl_seconds: float) -> None: ...

    async def set_if_absent(self, key: str, value: str, ttl_seconds: float) -> bool:
        """Set only when the key does not exist; True when this call set it."""
        ...

    async def incr(self, key: str, ttl_seconds: float) -> int:
        """Increment a counter (created at 0), refreshing its expiry."""
        ...

    async def delete_if_equals(self, key: str, value: str) -> bool:
        """Delete the key only while it still holds `value` (releasing one's own lock)."""
        ...


class MemoryStore:
    """Per-process store. Enough for one replica; expired keys are dropped lazily."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float]] = {}
        self._writes = 0

    def _now(self) -> float:
        return time.monotonic()

    def _live(self, key: str) -> str | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at <= self._now():
            del self._data[key]
            return None
        return value

    def _put(self, key: str, value: str, ttl_seconds: float) -> None:
        self._data[key] = (value, self._now() + ttl_seconds)
        self._writes += 1
        if self._writes % 1000 == 0:
            self._sweep()

    def _sweep(self) -> None:
        now = self._now()
        for key in [k for k, (_, expires_at) in self._data.items() if expires_at <= now]:
            del self._data[key]

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        self._put(key, value, ttl_seconds)

    async def set_if_absent(self, key: str, value: str, ttl_seconds: float) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl_seconds)
        return True

    async def incr(self, key: str, ttl_seconds: float) -> int:
        current = int(self._live(key) or "0") + 1
        self._put(key, str(current), ttl_seconds)
        return current

    async def delete_if_equals(self, key: str, value: str) -> bool:
        if self._live(key) == value:
            del self._data[key]
            return True
        return False


_DELETE_IF_EQUALS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisStore:
    """Store shared by every replica through Redis; all keys start with `prefix`."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return self._prefix + key

    @staticmethod
    def _ms(ttl_seconds: float) -> int:
        return max(1, int(ttl_seconds * 1000))

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._key(key))
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        await self._redis.set(self._key(key), value, px=self._ms(ttl_seconds))

    async def set_if_absent(self, key: str, value: str, ttl_seconds: float) -> bool:
        return bool(await self._redis.set(self._key(key), value, px=self._ms(ttl_seconds), nx=True))

    async def incr(self, key: str, ttl_seconds: float) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._key(key))
            pipe.pexpire(self._key(key), self._ms(ttl_seconds))
            count, _ = await pipe.execute()
        return int(count)

    async def delete_if_equals(self, key: str, value: str) -> bool:
        result = await self._redis.eval(_DELETE_IF_EQUALS, 1, self._key(key), value)
        return bool(result)
