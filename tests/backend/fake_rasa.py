"""A loopback stand-in for the Rasa server's REST channel, for app tests that are not
about the bot itself (the end-to-end tests use the real Rasa)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = Callable[[dict[str, Any]], list[dict[str, Any]]]


class FakeRasa:
    def __init__(self, answer: Answer, token: str | None = None) -> None:
        self.answer = answer
        self.token = token  # as `rasa run --auth-token`: the HTTP API wants ?token=
        self.received: list[dict[str, Any]] = []
        self.delay = 0.0
        self.fail = False

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
                if self.path != "/webhooks/rest/webhook":
                    self._send(404, {"error": "not found"})
                    return
                fake.received.append(body)
                time.sleep(fake.delay)
                if fake.fail:
                    self._send(500, {"error": "boom"})
                    return
                self._send(200, fake.answer(body))

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
