"""Time of one bot turn (NLU, policies, custom actions), p50 and p95.

Runs in the bot env, in-process: Rasa's Agent with the trained model, the real actions
behind a loopback webhook, the fake backend of tests/bot. Each simulated customer plays
the same report (greeting, identity, a story, the answers, the confirmation), so the
figure covers forms and action calls, not only NLU. The REST channel's own HTTP hop
(about a millisecond on loopback) is not included.

    .venv-bot/bin/python bench/nlu_eval_turn.py [--model models/claims.tar.gz] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from bench.harness import SCRIPT  # noqa: E402


async def main(model: str, runs: int) -> None:
    import json
    import zlib

    from aiohttp import web
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig
    from rasa_sdk.executor import ActionExecutor
    from rasa_sdk.interfaces import ActionExecutionRejection

    from bot import server
    from tests.bot.fake_backend import BOT_TOKEN, FakeBackend

    server.install()  # as `make run` starts Rasa (bot/server.py)

    runners = []

    async def serve(app: web.Application) -> int:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    backend_port = await serve(FakeBackend().app())
    os.environ.update(BACKEND_URL=f"http://127.0.0.1:{backend_port}", BACKEND_BOT_TOKEN=BOT_TOKEN)
    executor = ActionExecutor()
    executor.register_package("actions")

    async def webhook(request: web.Request) -> web.Response:
        raw = await request.read()
        if request.headers.get("Content-Encoding") == "deflate":
            raw = zlib.decompress(raw)
        try:
            return web.json_response(await executor.run(json.loads(raw)))
        except ActionExecutionRejection as rejection:
            return web.json_response({"error": rejection.message}, status=400)

    actions_app = web.Application()
    actions_app.router.add_post("/webhook", webhook)
    actions_port = await serve(actions_app)
    agent = Agent.load(
        model,
        action_endpoint=EndpointConfig(
            f"http://127.0.0.1:{actions_port}/webhook", enable_selective_domain=True
        ),
    )
    await agent.handle_text("你好", sender_id="warm-up")
    timings: list[float] = []
    for _ in range(runs):
        sender = f"bench:{uuid.uuid4().hex[:12]}"
        for text in SCRIPT:
            start = time.perf_counter()
            await agent.handle_text(text, sender_id=sender)
            timings.append((time.perf_counter() - start) * 1000)
    for runner in runners:
        await runner.cleanup()
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"bot turn ({len(timings)} turns, model {model}), {datetime.date.today().isoformat()}, "
        f"{os.cpu_count()} cores {platform.machine()}: p50 {statistics.median(timings):.1f} ms, "
        f"p95 {p95:.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models" / "claims.tar.gz"))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.model, args.runs))
