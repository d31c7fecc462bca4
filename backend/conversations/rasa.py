"""The app's client of the Rasa server: a bot turn over the REST channel, and the
HTTP API (with RASA_TOKEN) for what the bot must know without a turn: notices already
said (appended as bot events) and the survey started by the backend."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from backend.core.settings import Settings

log = logging.getLogger(__name__)


class RasaError(Exception):
    pass


def rasa_store_env(settings: Settings) -> dict[str, str]:
    """The environment bot/endpoints-scaled.yml reads: Rasa's tracker and lock stores in
    REDIS_URL's Redis, so several Rasa replicas serve one conversation. Raises
    ValueError when there is no usable REDIS_URL."""
    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set: several Rasa replicas need a shared Redis")
    url = urlsplit(settings.redis_url)
    if url.scheme != "redis":
        # Rasa's Redis stores take TLS only as a literal `use_ssl: true` in the file.
        raise ValueError(f"REDIS_URL: redis:// expected for Rasa's stores, not {url.scheme}://")
    database = url.path.lstrip("/") or "0"
    if not database.isdigit():
        raise ValueError(f"REDIS_URL: database number expected, not {database!r}")
    return {
        "RASA_ENDPOINTS": "bot/endpoints-scaled.yml",
        "RASA_REDIS_HOST": url.hostname or "localhost",
        "RASA_REDIS_PORT": str(url.port or 6379),
        "RASA_REDIS_DB": database,
        "RASA_REDIS_PASSWORD": unquote(url.password or ""),
        "RASA_STORE_KEY_PREFIX": settings.rasa_store_key_prefix,
        "RASA_TRACKER_TTL_SECONDS": str(settings.rasa_tracker_ttl_seconds),
    }


class RasaClient:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.base_url = settings.rasa_url.rstrip("/")
        assert settings.rasa_token is not None
        self._token = settings.rasa_token.get_secret_value()
        self.http = http

    def _api(self, conversation_id: str, path: str) -> str:
        return f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/{path}"

    async def turn(
        self, conversation_id: str, text: str, metadata: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """One bot turn through the REST channel; raises RasaError when Rasa fails."""
        try:
            response = await self.http.post(
                f"{self.base_url}/webhooks/rest/webhook",
                json={"sender": conversation_id, "message": text, "metadata": dict(metadata)},
            )
            response.raise_for_status()
            answers = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaError(type(exc).__name__) from exc
        if not isinstance(answers, list):
            raise RasaError("REST channel answer is not a list")
        return [a for a in answers if isinstance(a, dict)]

    async def append_bot_messages(
        self, conversation_id: str, messages: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> None:
        """Tell the tracker what was said to the customer outside a bot turn (a notice,
        an agent's reply), so the bot's next turn knows it. No prediction runs."""
        events = [
            {"event": "bot", "text": text, "metadata": dict(metadata)}
            for text, metadata in messages
            if text
        ]
        if not events:
            return
        await self._post(self._api(conversation_id, "tracker/events"), events)

    async def append_events(
        self, conversation_id: str, events: Sequence[Mapping[str, Any]]
    ) -> None:
        """Append events to the tracker (e.g. pause / resume around a handoff)."""
        await self._post(self._api(conversation_id, "tracker/events"), [dict(e) for e in events])

    async def parse(self, text: str) -> dict[str, Any]:
        """What Rasa's NLU makes of `text` (/model/parse): no bot turn, no tracker."""
        body = await self._post(f"{self.base_url}/model/parse", {"text": text})
        return dict(body) if isinstance(body, dict) else {}

    async def trigger_intent(
        self, conversation_id: str, name: str, entities: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """A full bot turn started by the backend; the bot's messages come back (no
        output channel), for the app to deliver on its own path."""
        body = await self._post(
            self._api(conversation_id, "trigger_intent"),
            {"name": name, "entities": dict(entities)},
        )
        messages = body.get("messages") if isinstance(body, dict) else None
        return [m for m in messages or [] if isinstance(m, dict)]

    async def _post(self, url: str, body: Any) -> Any:
        try:
            response = await self.http.post(url, json=body, params={"token": self._token})
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaError(f"{url.rsplit('/', 1)[-1]}: {type(exc).__name__}") from exc
