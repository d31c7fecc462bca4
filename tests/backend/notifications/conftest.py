"""A world for the notifications worker: a fresh migrated database with the demo
policies, the fake WeChat and Twilio APIs on loopback, and Settings pointing at them.

The worker is built as production builds it (`open_services(settings)`), and tests
look at what a customer or an operator would see: what arrived at the fakes, the
outbox rows, the claim and its events. Rasa is not running (127.0.0.1:9): telling the
bot about a notice is best effort.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.claims.moves import Who
from backend.claims.reporting import NewClaim, report_claim
from backend.composition import open_services
from backend.core import migrate
from backend.core.db import make_engine, make_session_factory, transaction
from backend.core.settings import Settings
from backend.core.state import Services
from backend.demo import load_demo_data
from backend.domain.types import Actor, ClaimType
from backend.models import (
    ChannelIdentity,
    Claim,
    ClaimEvent,
    Conversation,
    Coverage,
    OutboxMessage,
    Policy,
    Policyholder,
)
from backend.notifications.service import NotificationService
from tests.conftest import scratch_postgres
from tests.fakes.fake_twilio import FakeTwilio
from tests.fakes.fake_wechat import FakeWeChat

PUBLIC_BASE_URL = "https://claims.example.com"
TWILIO_NUMBER = "+15005550006"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 张伟 (medical) and 李娜 (auto) from backend/demo.py.
ZHANG = "P2025000001"
ZHANG_PHONE = "+8613800000001"
LI = "P2025000002"
LI_PHONE = "+8613800000002"
TEMPLATES = {
    "claim_filed": "tmpl-filed",
    "approved": "tmpl-1",
    "rejected": "tmpl-rejected",
    "paid": "tmpl-paid",
    "documents_reminder": "tmpl-reminder",
}
STAFF = Who(Actor.AGENT, "agent1")
ADJUSTER = Who(Actor.ADJUSTER, "adj1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_wechat() -> Iterator[FakeWeChat]:
    with FakeWeChat() as server:
        yield server


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


def new_openid() -> str:
    return "o" + uuid.uuid4().hex[:27]


@dataclass
class World:
    url: str
    tmp_path: Path
    wechat: FakeWeChat
    twilio: FakeTwilio
    engine: Engine
    sessions: sessionmaker[Session]

    # -- settings and the worker -------------------------------------------------------

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "_env_file": None,
            "database_url": self.url,
            "var_dir": self.tmp_path / "var",
            "document_dir": self.tmp_path / "documents",
            "rasa_url": "http://127.0.0.1:9",
            "public_base_url": PUBLIC_BASE_URL,
            "redis_url": None,
            "wechat_app_id": self.wechat.app_id,
            "wechat_app_secret": self.wechat.app_secret,
            "wechat_api_base_url": self.wechat.base_url,
            "wechat_http_timeout_seconds": 5.0,
            "twilio_account_sid": self.twilio.account_sid,
            "twilio_auth_token": self.twilio.auth_token,
            "twilio_from_number": TWILIO_NUMBER,
            "twilio_api_base_url": self.twilio.base_url,
            "twilio_http_timeout_seconds": 5.0,
            "wechat_templates": TEMPLATES,
            "sms_quiet_hours": "",
        }
        values.update(overrides)
        return Settings(**values)

    @asynccontextmanager
    async def services(self, **overrides: Any) -> AsyncIterator[Services]:
        async with open_services(self.settings(**overrides)) as services:
            yield services

    @asynccontextmanager
    async def worker(
        self, owner: str = "worker-a", **overrides: Any
    ) -> AsyncIterator[NotificationService]:
        async with self.services(**overrides) as services:
            yield NotificationService(services, owner=owner)

    # -- the data, as staff and customers make it ---------------------------------------

    def holder_id(self, policy_number: str) -> int:
        with transaction(self.sessions) as session:
            policy = session.scalars(
                select(Policy).where(Policy.policy_number == policy_number)
            ).one()
            return policy.policyholder_id

    def file_claim(self, policy_number: str = ZHANG, *, clear_outbox: bool = True) -> str:
        """Staff file a claim (as by phone); its claim_filed notice is dropped unless
        asked for, so a test sees only the notices it writes."""
        with transaction(self.sessions) as session:
            claim_type = ClaimType.AUTO if policy_number == LI else ClaimType.MEDICAL
            claim, _ = report_claim(
                session,
                self.settings(),
                STAFF,
                NewClaim(
                    claim_type=claim_type,
                    incident_date=datetime.now(SHANGHAI).date() - timedelta(days=1),
                    location="北京协和医院",
                    description="急诊发烧",
                    claimed_amount=Decimal("2800.00"),
                    policy_number=policy_number,
                ),
                uuid.uuid4().hex,
            )
            number = claim.claim_number
            if clear_outbox:
                for row in session.scalars(
                    select(OutboxMessage).where(OutboxMessage.claim_id == claim.id)
                ):
                    session.delete(row)
            return number

    def new_customer(self, *, phone: str | None = None) -> tuple[str, str]:
        """Another medical policyholder (not one of the demo people), with a claim filed
        by staff whose claim_filed notice is dropped. Returns (policy number, claim)."""
        with transaction(self.sessions) as session:
            serial = 1 + (session.scalar(select(func.count()).select_from(Policyholder)) or 0)
            holder = Policyholder(
                name=f"客户{serial}", id_last4="0000", phone=phone or f"+86139{serial:08d}"
            )
            session.add(holder)
            session.flush()
            policy = Policy(
                policy_number=f"P9{serial:09d}",
                policyholder_id=holder.id,
                start_date=date(2025, 1, 1),
                end_date=date(2027, 12, 31),
            )
            session.add(policy)
            session.flush()
            session.add(
                Coverage(
                    policy_id=policy.id,
                    claim_type=ClaimType.MEDICAL,
                    limit=Decimal("50000"),
                    deductible=Decimal("0"),
                    ratio=Decimal("1.00"),
                )
            )
            policy_number = policy.policy_number
        return policy_number, self.file_claim(policy_number)

    def bind(
        self,
        policy_number: str,
        conversation_id: str,
        *,
        last_message_ago: timedelta | None = None,
        opted_out: bool = False,
    ) -> None:
        """The customer proved who they are on `conversation_id` and last wrote there
        `last_message_ago` (None: never, e.g. only followed the account)."""
        holder = self.holder_id(policy_number)
        channel = conversation_id.split(":", 1)[0]
        last = None if last_message_ago is None else datetime.now(UTC) - last_message_ago
        with transaction(self.sessions) as session:
            session.add(
                Conversation(
                    id=conversation_id,
                    channel=channel,
                    opted_out=opted_out,
                    last_inbound_at=last,
                    last_customer_message_at=last,
                )
            )
            session.add(
                ChannelIdentity(
                    conversation_id=conversation_id, channel=channel, policyholder_id=holder
                )
            )

    def stopped_sms(self, phone: str) -> None:
        """The number texted STOP (its SMS conversation is opted out, not bound)."""
        with transaction(self.sessions) as session:
            session.add(Conversation(id=f"sms:{phone}", channel="sms", opted_out=True))

    def set_holder(self, policy_number: str, **values: Any) -> None:
        holder_id = self.holder_id(policy_number)
        with transaction(self.sessions) as session:
            holder = session.get(Policyholder, holder_id)
            assert holder is not None
            for key, value in values.items():
                setattr(holder, key, value)

    # -- what an operator sees ----------------------------------------------------------

    def outbox(self, claim_number: str | None = None) -> list[OutboxMessage]:
        with transaction(self.sessions) as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if claim_number:
                query = query.where(OutboxMessage.claim_number == claim_number)
            return list(session.scalars(query).all())

    def row(self, outbox_id: int) -> OutboxMessage:
        with transaction(self.sessions) as session:
            row = session.get(OutboxMessage, outbox_id)
            assert row is not None
            return row

    def claim(self, claim_number: str) -> Claim:
        with transaction(self.sessions) as session:
            return session.scalars(select(Claim).where(Claim.claim_number == claim_number)).one()

    def events(self, claim_number: str, kind: str | None = None) -> list[ClaimEvent]:
        claim = self.claim(claim_number)
        with transaction(self.sessions) as session:
            query = select(ClaimEvent).where(ClaimEvent.claim_id == claim.id)
            if kind:
                query = query.where(ClaimEvent.kind == kind)
            return list(session.scalars(query.order_by(ClaimEvent.id)).all())

    def conversation(self, conversation_id: str) -> Conversation | None:
        with transaction(self.sessions) as session:
            return session.get(Conversation, conversation_id)

    def texts_to(self, openid: str) -> list[str]:
        return [str(m["text"]["content"]) for m in self.wechat.messages_to(openid)]

    def templates_to(self, openid: str) -> list[dict[str, Any]]:
        return [m for m in self.wechat.template_messages if m.get("touser") == openid]

    def sms_to(self, phone: str) -> list[str]:
        return [str(m["body"]) for m in self.twilio.messages if m["to"] == phone]


def make_world(url: str, tmp_path: Path, wechat: FakeWeChat, twilio: FakeTwilio) -> World:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        load_demo_data(session, date.today())
    return World(url, tmp_path, wechat, twilio, engine, sessions)


@pytest.fixture
def world(tmp_path: Path, fake_wechat: FakeWeChat, fake_twilio: FakeTwilio) -> Iterator[World]:
    """A fresh SQLite file of this test's own (the worker commits, from threads)."""
    url = f"sqlite:///{tmp_path / 'claims.db'}"
    migrate.upgrade(url)
    w = make_world(url, tmp_path, fake_wechat, fake_twilio)
    yield w
    w.engine.dispose()


@pytest.fixture
def pg_world(tmp_path: Path, fake_wechat: FakeWeChat, fake_twilio: FakeTwilio) -> Iterator[World]:
    """A throw-away PostgreSQL database of this test's own."""
    with scratch_postgres("claims_notify") as url:
        w = make_world(url, tmp_path, fake_wechat, fake_twilio)
        try:
            yield w
        finally:
            w.engine.dispose()


async def drain(service: NotificationService) -> int:
    """Run the worker until nothing is due; return how many notices it took."""
    taken = 0
    while n := await service.run_once():
        taken += n
    return taken
