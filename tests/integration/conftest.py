"""The real app (`create_app`) served by uvicorn on 127.0.0.1, wired to the fake WeChat
and Twilio APIs and to a fake Rasa, over a migrated database of its own.

Tests talk to it only as the platforms do (signed callbacks and webhooks over HTTP),
and look at what a customer or an operator would see: the reply bodies, what the fakes
were asked to deliver, what the bot was asked, and the rows in the database.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from redis import Redis
from sqlalchemy import Engine, select

from backend.core import migrate
from backend.core.db import make_engine, make_session_factory, transaction
from backend.core.settings import Settings
from backend.documents.service import open_document_store
from backend.main import create_app
from backend.models import Conversation, Document, InboundTurn, TranscriptMessage
from backend.notifications.worker import run_worker
from channels.settings import ChannelSettings
from tests.backend.fake_rasa import FakeRasa
from tests.conftest import REDIS_URL, scratch_postgres
from tests.fakes.fake_twilio import FakeTwilio, SignedForm, TwilioWebhooks
from tests.fakes.fake_wechat import FakeWeChat, SignedCallback, WeChatCallbacks

# What Twilio calls (behind a TLS-terminating proxy); the app itself listens on loopback.
PUBLIC_BASE_URL = "https://claims.example.com"
TWILIO_NUMBER = "+15005550006"

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 5.0, what: str = "the condition"
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def new_openid() -> str:
    return "o" + secrets.token_urlsafe(20)[:27]


def new_phone() -> str:
    return "+86138" + str(secrets.randbelow(10**8)).zfill(8)


def echo_bot(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"recipient_id": body["sender"], "text": f"你说：{body['message']}"}]


@dataclass
class RunningApp:
    base_url: str
    settings: Settings
    channel_settings: ChannelSettings  # settings.channels
    rasa: FakeRasa
    wechat: FakeWeChat
    twilio: FakeTwilio
    callbacks: WeChatCallbacks
    webhooks: TwilioWebhooks
    client: httpx.Client
    server: uvicorn.Server
    thread: threading.Thread
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.database_url)
        self._sessions = make_session_factory(self.engine)

    # -- as the platforms call the app ---------------------------------------------

    def post_wechat(self, callback: SignedCallback) -> httpx.Response:
        return self.client.post(
            "/channels/wechat",
            params=callback.params,
            content=callback.body,
            headers={"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"},
        )

    def post_twilio(self, signed: SignedForm) -> httpx.Response:
        return self.client.post(signed.path, data=signed.form, headers=signed.headers)

    def wechat_reply(self, response: httpx.Response) -> str | None:
        """The text the person sees from a passive reply (None for "success")."""
        assert response.status_code == 200, response.text
        reply = self.callbacks.read_reply(response.content)
        if reply is None:
            return None
        assert reply["MsgType"] == "text"
        return str(reply["Content"])

    # -- as an operator looks at the database ---------------------------------------

    def transcript(self, conversation_id: str) -> list[TranscriptMessage]:
        with transaction(self._sessions) as session:
            return list(
                session.scalars(
                    select(TranscriptMessage)
                    .where(TranscriptMessage.conversation_id == conversation_id)
                    .order_by(TranscriptMessage.id)
                ).all()
            )

    def conversation(self, conversation_id: str) -> Conversation | None:
        with transaction(self._sessions) as session:
            return session.get(Conversation, conversation_id)

    def add_conversation(self, conversation_id: str, **values: Any) -> None:
        with transaction(self._sessions) as session:
            channel = conversation_id.split(":", 1)[0]
            session.add(Conversation(id=conversation_id, channel=channel, **values))

    def document(self, document_id: str) -> Document | None:
        with transaction(self._sessions) as session:
            return session.get(Document, document_id)

    def stored_blob(self, document: Document) -> bytes:
        return open_document_store(self.settings).get(document.storage_key)

    def wait_for_transcript(
        self, conversation_id: str, count: int, *, timeout: float = 5.0
    ) -> list[TranscriptMessage]:
        return wait_for(
            lambda: rows if len(rows := self.transcript(conversation_id)) >= count else None,
            timeout=timeout,
            what=f"{count} transcript rows of {conversation_id}",
        )

    def stop(self) -> None:
        """Shut the app down; its lifespan waits for the channels' background work."""
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(30)
            assert not self.thread.is_alive(), "the app did not shut down"
        self.client.close()
        self.engine.dispose()


def inbound_turns(app: RunningApp, conversation_id: str) -> list[InboundTurn]:
    """The conversation's accepted messages, answered or waiting for their answer."""
    with transaction(app._sessions) as session:
        return list(
            session.scalars(
                select(InboundTurn).where(InboundTurn.conversation_id == conversation_id)
            ).all()
        )


@contextmanager
def notifications_worker(settings: Settings) -> Iterator[None]:
    """`python -m backend.notifications.worker`, in a thread of its own."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(run_worker(settings, stop, name="w-test"),)
    )
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


# -- databases --------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'claims.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throw-away database per test module (the shared `public` schema is left alone)."""
    with scratch_postgres("claims_it") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def redis_url() -> Iterator[tuple[str, str]]:
    """The real Redis (db 15) and a key prefix of this test's own, removed afterwards."""
    client = Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:
        client.close()
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc!r}", pytrace=False)
    prefix = f"test:integration:{secrets.token_hex(6)}:"
    try:
        yield REDIS_URL, prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


# -- the fakes --------------------------------------------------------------------------


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    with FakeRasa(echo_bot).running() as rasa:
        yield rasa


@pytest.fixture
def fake_wechat() -> Iterator[FakeWeChat]:
    with FakeWeChat() as server:
        yield server


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


def closed_port_url() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# -- the app ----------------------------------------------------------------------------

StartApp = Callable[..., RunningApp]


@pytest.fixture
def start_app(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fake_rasa: FakeRasa,
    fake_wechat: FakeWeChat,
    fake_twilio: FakeTwilio,
) -> Iterator[StartApp]:
    """Start the real app. Options: database_url (default a fresh SQLite file), aes_key
    (WeChat safe mode), reply_budget (WECHAT_REPLY_BUDGET_SECONDS), redis ((url, prefix)
    for the channel runtime), rasa_url (default the fake Rasa); any other Settings field
    by name."""
    running: list[RunningApp] = []

    def start(
        *,
        database_url: str | None = None,
        aes_key: str | None = None,
        reply_budget: float = 4.0,
        redis: tuple[str, str] | None = None,
        rasa_url: str | None = None,
        **overrides: Any,
    ) -> RunningApp:
        url = database_url or str(request.getfixturevalue("sqlite_url"))
        redis_url, prefix = redis or (None, "claims:channels:")
        wechat_token = secrets.token_hex(12)
        settings = Settings(
            _env_file=None,
            database_url=url,
            var_dir=tmp_path / "var",
            document_dir=tmp_path / "documents",
            rasa_url=rasa_url or fake_rasa.url,
            public_base_url=PUBLIC_BASE_URL,
            wechat_token=wechat_token,
            wechat_app_id=fake_wechat.app_id,
            wechat_app_secret=fake_wechat.app_secret,
            wechat_aes_key=aes_key,
            wechat_api_base_url=fake_wechat.base_url,
            wechat_reply_budget_seconds=reply_budget,
            wechat_http_timeout_seconds=3.0,
            twilio_account_sid=fake_twilio.account_sid,
            twilio_auth_token=fake_twilio.auth_token,
            twilio_from_number=TWILIO_NUMBER,
            twilio_api_base_url=fake_twilio.base_url,
            twilio_http_timeout_seconds=3.0,
            redis_key_prefix=prefix,
            redis_url=redis_url,
            **overrides,
        )
        channel_settings = settings.channels
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings),
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=10,
            )
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        wait_for(
            lambda: server.started or not thread.is_alive(), timeout=20, what="the app to start"
        )
        if not server.started:
            sock.close()
            raise AssertionError("the app failed to start (see the log above)")
        base_url = f"http://127.0.0.1:{port}"
        app = RunningApp(
            base_url=base_url,
            settings=settings,
            channel_settings=channel_settings,
            rasa=fake_rasa,
            wechat=fake_wechat,
            twilio=fake_twilio,
            callbacks=WeChatCallbacks(
                token=wechat_token, app_id=fake_wechat.app_id, aes_key=aes_key
            ),
            webhooks=TwilioWebhooks(
                auth_token=fake_twilio.auth_token,
                public_base_url=PUBLIC_BASE_URL,
                account_sid=fake_twilio.account_sid,
            ),
            client=httpx.Client(base_url=base_url, timeout=15),
            server=server,
            thread=thread,
        )
        running.append(app)
        return app

    yield start
    for app in running:
        app.stop()
