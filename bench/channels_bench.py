"""Channel figures: what the app itself adds between a platform's webhook and the answer.

Usage: .venv/bin/python bench/channels_bench.py [--messages 300] [--concurrency 8]
       [--database postgres]   # default: the embedded SQLite file

Runs the real app under uvicorn on 127.0.0.1 with loopback fakes of WeChat, Twilio and
Rasa (the fake bot answers at once, so the figures are the app's own cost: signature
check, dedup, transcript rows in and out, the call to Rasa, rendering) and prints:
- WeChat: signed text callback → passive reply, p50/p95, one at a time and callbacks/s
  with N concurrent senders (each a different user, as on a real account);
- Twilio: signed SMS webhook → 200 (the answer goes out afterwards), p50/p95, and
  webhook → outbound SMS accepted by the (fake) Twilio API, p50/p95.
"""

from __future__ import annotations

import argparse
import platform
import secrets
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn

from backend.core import migrate
from backend.core.settings import Settings
from backend.main import create_app
from bench.harness import ms, timed
from tests.backend.fake_rasa import FakeRasa
from tests.conftest import scratch_postgres
from tests.fakes.fake_twilio import FakeTwilio, TwilioWebhooks
from tests.fakes.fake_wechat import FakeWeChat, WeChatCallbacks

PUBLIC_BASE_URL = "https://claims.example.com"
TWILIO_NUMBER = "+15005550006"


def answer(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"recipient_id": body["sender"], "text": "您好，我是理赔助手。请问需要办理什么？"}]


def run(args: argparse.Namespace, database_url: str, workdir: Path) -> None:
    with (
        FakeRasa(answer).running() as rasa,
        FakeWeChat() as wechat,
        FakeTwilio() as twilio,
    ):
        token = secrets.token_hex(12)
        settings = Settings(
            _env_file=None,
            database_url=database_url,
            var_dir=workdir / "var",
            document_dir=workdir / "documents",
            rasa_url=rasa.url,
            public_base_url=PUBLIC_BASE_URL,
            wechat_token=token,
            wechat_app_id=wechat.app_id,
            wechat_app_secret=wechat.app_secret,
            wechat_api_base_url=wechat.base_url,
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=twilio.auth_token,
            twilio_from_number=TWILIO_NUMBER,
            twilio_api_base_url=twilio.base_url,
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        callbacks = WeChatCallbacks(token=token, app_id=wechat.app_id)
        webhooks = TwilioWebhooks(
            auth_token=twilio.auth_token,
            public_base_url=PUBLIC_BASE_URL,
            account_sid=twilio.account_sid,
        )
        try:
            with httpx.Client(base_url=base_url, timeout=30) as client:

                def wechat_turn() -> None:
                    openid = "o" + secrets.token_urlsafe(20)[:27]
                    cb = callbacks.text(openid, "你好")
                    r = client.post("/channels/wechat", params=cb.params, content=cb.body)
                    assert r.status_code == 200 and b"<xml>" in r.content, r.text

                for _ in range(20):  # warm-up: connections, caches
                    wechat_turn()
                serial = [timed(wechat_turn) for _ in range(args.messages)]
                started = time.perf_counter()
                with ThreadPoolExecutor(args.concurrency) as pool:
                    list(pool.map(lambda _: wechat_turn(), range(args.messages)))
                per_second = args.messages / (time.perf_counter() - started)

                acks: list[float] = []
                delivered: list[float] = []
                for n in range(max(50, args.messages // 3)):
                    phone = "+86138" + str(n).zfill(8)
                    before = len(twilio.messages)
                    signed = webhooks.inbound_sms(
                        from_=phone, to=TWILIO_NUMBER, body="我的理赔怎么样了"
                    )
                    started = time.perf_counter()
                    r = client.post(signed.path, data=signed.form, headers=signed.headers)
                    acks.append(time.perf_counter() - started)
                    assert r.status_code == 200, r.text
                    while len(twilio.messages) <= before:
                        time.sleep(0.001)
                    delivered.append(time.perf_counter() - started)
        finally:
            server.should_exit = True
            thread.join(30)

    print(f"WeChat callback → passive reply, one at a time ({args.messages}): {ms(serial)}")
    print(
        f"WeChat callbacks with {args.concurrency} concurrent senders: {per_second:.1f} answered/s"
    )
    print(f"Twilio SMS webhook → 200 ({len(acks)}): {ms(acks)}")
    print(f"Twilio SMS webhook → answer accepted by the Twilio API: {ms(delivered)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    print(
        f"channels bench, {date.today().isoformat()}, {platform.machine()}, "
        f"{platform.python_version()}, database {args.database}, fake Rasa answering at once"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.database == "postgres":
            with scratch_postgres("claims_bench_channels") as url:
                run(args, url, workdir)
        else:
            url = f"sqlite:///{workdir / 'claims.db'}"
            migrate.upgrade(url)
            run(args, url, workdir)


if __name__ == "__main__":
    main()
