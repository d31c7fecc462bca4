"""A loopback stand-in for the Rasa server, for app tests that are not about the bot
itself (the end-to-end tests use the real Rasa): its REST channel, and the two routes of
its HTTP API the app calls — appending events to a tracker and triggering an intent —
with the token check of `rasa run --enable-api --auth-token`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

Answer = Callable[[dict[str, Any]], list[dict[str, Any]]]


class FakeRasa:
    def __init__(self, answer: Answer, token: str | None = None) -> None:
        self.answer = answer
        self.token = token  # as `rasa run --auth-token`: the HTTP API wants ?token=
        self.received: list[dict[str, Any]] = []
        # Every call in arrival order: ("turn", sender, body), ("events", conversation,
        # events) or ("trigger", conversation, body).
        self.calls: list[tuple[str, str, Any]] = []
        self.triggered_answers: list[dict[str, Any]] = []
        self.delay = 0.0
        self.fail = False
        self.fail_api = 0  # the next n API calls answer 500
        # /model/parse: text -> (intent, confidence); anything else is a fallback.
        self.intents: dict[str, tuple[str, float]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # /status
                query = parse_qs(urlsplit(self.path).query)
                if fake.token is not None and query.get("token") != [fake.token]:
                    self._send(401, {"reason": "NotAuthenticated"})
                    return
                self._send(200, {"model_file": "fake"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                parts = urlsplit(self.path)
                if parts.path == "/model/parse":
                    self._parse(parse_qs(parts.query), body)
                    return
                if parts.path.startswith("/conversations/"):
                    self._api(parts.path, parse_qs(parts.query), body)
                    return
                if parts.path != "/webhooks/rest/webhook":
                    self._send(404, {"error": "not found"})
                    return
                fake.received.append(body)
                fake.calls.append(("turn", body["sender"], body))
                time.sleep(fake.delay)
                if fake.fail:
                    self._send(500, {"error": "boom"})
                    return
                self._send(200, fake.answer(body))

            def _parse(self, query: dict[str, list[str]], body: Any) -> None:
                if fake.token is not None and query.get("token") != [fake.token]:
                    self._send(401, {"reason": "NotAuthenticated"})
                    return
                text = str(body.get("text") or "")
                fake.calls.append(("parse", "", body))
                intent, confidence = fake.intents.get(text, ("nlu_fallback", 0.3))
                self._send(
                    200,
                    {"text": text, "intent": {"name": intent, "confidence": confidence}},
                )

            def _api(self, path: str, query: dict[str, list[str]], body: Any) -> None:
                if fake.token is not None and query.get("token") != [fake.token]:
                    self._send(401, {"reason": "NotAuthenticated"})
                    return
                if fake.fail_api:
                    fake.fail_api -= 1
                    self._send(500, {"error": "boom"})
                    return
                _, _, conversation, *rest = path.split("/")
                conversation = unquote(conversation)
                if rest == ["tracker", "events"]:
                    fake.calls.append(("events", conversation, body))
                    self._send(200, {"sender_id": conversation, "events": body})
                elif rest == ["trigger_intent"]:
                    fake.calls.append(("trigger", conversation, body))
                    self._send(200, {"messages": fake.triggered_answers})
                else:
                    self._send(404, {"error": "not found"})

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    @contextmanager
    def running(self) -> Iterator[FakeRasa]:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
