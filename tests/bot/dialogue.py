"""Whole conversations with the trained model, in-process: Rasa's Agent (NLU, rules,
policies) calls the real actions through a loopback action server, and the actions call
the fake backend. What the customer reads is what the assertions see.

A `Customer` opens with fixed messages, then answers whatever the bot asks from its own
table of facts, as a person would: the question decides the answer, not a script. A
dialogue passes when the claim in the backend has the expected type, date and amount
within a turn budget.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection

from tests.bot.fake_backend import FakeBackend
from tests.bot.helpers import ROOT

MODEL = ROOT / "models" / "claims.tar.gz"


def load_agent() -> Any:
    from rasa.core.agent import Agent

    assert MODEL.exists(), "no trained model: run `make train` (make test-bot does)"
    return Agent.load(str(MODEL))


@pytest.fixture
async def action_server(backend: FakeBackend) -> AsyncIterator[str]:
    """The real actions behind a webhook on 127.0.0.1, like `python -m rasa_sdk`."""
    executor = ActionExecutor()
    executor.register_package("actions")

    async def webhook(request: web.Request) -> web.Response:
        raw = await request.read()
        if request.headers.get("Content-Encoding") == "deflate":
            raw = zlib.decompress(raw)
        try:
            result = await executor.run(json.loads(raw))
        except ActionExecutionRejection as rejection:
            return web.json_response(
                {"error": rejection.message, "action_name": rejection.action_name}, status=400
            )
        return web.json_response(result)

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        await runner.cleanup()


def shown(messages: list[dict[str, Any]]) -> str:
    """The bot's messages as the customer reads them, button titles included."""
    parts = []
    for message in messages:
        if message.get("text"):
            parts.append(message["text"])
        parts.extend(f"[{button['title']}]" for button in message.get("buttons") or [])
    return "\n".join(parts)


class Chat:
    """One conversation with the agent; keeps the transcript for failure messages."""

    def __init__(self, agent: Any, action_url: str, sender_id: str) -> None:
        from rasa.utils.endpoints import EndpointConfig

        endpoint = EndpointConfig(action_url, enable_selective_domain=True)
        agent.action_endpoint = endpoint
        agent.processor.action_endpoint = endpoint
        self.agent = agent
        self.sender_id = sender_id
        self.transcript: list[str] = []

    async def say(self, text: str) -> str:
        reply = shown(await self.agent.handle_text(text, sender_id=self.sender_id))
        self.transcript += [f"客户: {text}", f"助手: {reply}"]
        return reply

    def __str__(self) -> str:
        return "\n".join(self.transcript)


# What a question is about, by the words it carries (domain.yml's questions).
QUESTIONS = (
    ("核对", "confirm"),  # the summary names every field: it comes first
    ("保单号", "policy"),
    ("身份证", "id_last4"),
    ("哪一类", "type"),
    ("哪天", "date"),
    ("在哪里", "place"),
    ("多说一点", "more"),
    ("经过", "story"),
    ("多少钱", "amount"),
)


@dataclass
class Customer:
    """Answers what the bot asks from its facts; fails on a question it cannot place."""

    chat: Chat
    facts: dict[str, str]
    turns: int = 0
    asked: list[str] = field(default_factory=list)

    async def say(self, text: str) -> str:
        self.turns += 1
        return await self.chat.say(text)

    async def answer_until(self, reply: str, words: str, budget: int = 6) -> str:
        """Answer questions until the bot says `words` (e.g. the question a test is
        about), within `budget` more turns."""
        for _ in range(budget):
            if words in reply:
                return reply
            topic = next((topic for key, topic in QUESTIONS if key in reply), None)
            if topic is None or topic not in self.facts:
                raise AssertionError(f"the bot asked something unexpected:\n{self.chat}")
            self.asked.append(topic)
            reply = await self.say(self.facts[topic])
        if words in reply:
            return reply
        raise AssertionError(f"never got to {words!r}:\n{self.chat}")

    async def answer_until_filed(self, reply: str, budget: int) -> str:
        """Answer questions until the claim number comes back; at most `budget` turns
        in all (opening messages included)."""
        while "报案成功" not in reply:
            if self.turns >= budget:
                raise AssertionError(f"not filed within {budget} turns:\n{self.chat}")
            topic = next((topic for words, topic in QUESTIONS if words in reply), None)
            if topic is None or topic not in self.facts:
                raise AssertionError(f"the bot asked something unexpected:\n{self.chat}")
            self.asked.append(topic)
            reply = await self.say(self.facts[topic])
        return reply
