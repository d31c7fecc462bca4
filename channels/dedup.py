"""Drop the platforms' retries of a message already received."""

from __future__ import annotations

from channels.store import KeyValueStore


class Deduplicator:
    """`seen(key)` marks the key and says whether it was marked before.

    With Redis this is `SET key 1 NX PX ttl`, shared by all replicas; without Redis an
    in-process dict with expiry (fine for one replica).
    """

    def __init__(self, store: KeyValueStore, *, ttl_seconds: float) -> None:
        self._store = store
        self._ttl = ttl_seconds

    async def seen(self, dedup_key: str) -> bool:
        return not await self._store.set_if_absent(f"dedup:{dedup_key}", "1", self._ttl)
