"""Document reminders: required documents still missing DOCUMENT_REMINDER_DAYS after
the claim was filed (or documents were last asked for) bring one reminder per due
step, at most DOCUMENT_REMINDERS_MAX, however often and by however many workers the
job runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from backend.core.db import transaction
from backend.core.settings import Settings
from backend.domain.types import ClaimStatus
from backend.models import ChecklistEntry, Claim
from backend.notifications.service import (
    NotificationService,
    claim_job,
    enqueue_document_reminders,
)
from tests.backend.notifications.conftest import LI, ZHANG_PHONE, World, drain, new_openid

pytestmark = pytest.mark.anyio


def asked_ago(world: World, number: str, days: float) -> None:
    """The claim was filed (documents asked for) `days` days ago, plus a minute."""
    with transaction(world.sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == number)).one()
        claim.documents_requested_at = datetime.now(UTC) - timedelta(days=days, minutes=1)


def run_reminders(world: World, settings: Settings) -> int:
    with transaction(world.sessions) as session:
        return enqueue_document_reminders(session, settings)


def reminders(world: World, number: str) -> list[list[str]]:
    """The missing items each reminder of the claim names."""
    return [
        [item["name"] for item in row.payload["missing"]]
        for row in world.outbox(number)
        if row.kind == "documents_reminder"
    ]


def missing_names(world: World, number: str) -> list[str]:
    claim = world.claim(number)
    with transaction(world.sessions) as session:
        return list(
            session.scalars(
                select(ChecklistEntry.name)
                .where(ChecklistEntry.claim_id == claim.id, ChecklistEntry.received.is_(False))
                .order_by(ChecklistEntry.position)
            ).all()
        )


def test_no_reminder_before_the_days_are_up(world: World) -> None:
    settings = world.settings()
    number = world.file_claim()
    asked_ago(world, number, settings.document_reminder_days - 1)
    assert run_reminders(world, settings) == 0
    assert reminders(world, number) == []


def test_one_reminder_per_due_step_even_when_the_job_runs_twice(world: World) -> None:
    settings = world.settings()  # 3 days, at most 2
    number = world.file_claim()
    missing = missing_names(world, number)
    assert missing

    asked_ago(world, number, 3)
    assert run_reminders(world, settings) == 1
    assert run_reminders(world, settings) == 0
    assert reminders(world, number) == [missing]

    asked_ago(world, number, 6)  # the second step is due
    assert run_reminders(world, settings) == 1
    assert run_reminders(world, settings) == 0
    assert len(reminders(world, number)) == 2

    asked_ago(world, number, 9)  # a third step would be due: the maximum is 2
    assert run_reminders(world, settings) == 0
    assert len(reminders(world, number)) == 2
    assert world.claim(number).document_reminders_sent == 2


def test_reminder_names_only_what_is_still_missing(world: World) -> None:
    number = world.file_claim()
    first, *rest = missing_names(world, number)
    claim_id = world.claim(number).id
    with transaction(world.sessions) as session:
        entry = session.scalars(
            select(ChecklistEntry).where(
                ChecklistEntry.claim_id == claim_id, ChecklistEntry.name == first
            )
        ).one()
        entry.received = True
    asked_ago(world, number, 3)
    run_reminders(world, world.settings())
    assert reminders(world, number) == [rest]


def test_no_reminder_when_everything_arrived_or_the_claim_moved_on(world: World) -> None:
    settings = world.settings()
    complete = world.file_claim()
    claim_id = world.claim(complete).id
    with transaction(world.sessions) as session:
        for entry in session.scalars(
            select(ChecklistEntry).where(ChecklistEntry.claim_id == claim_id)
        ):
            entry.received = True
    withdrawn = world.file_claim()
    with transaction(world.sessions) as session:
        claim = session.scalars(select(Claim).where(Claim.claim_number == withdrawn)).one()
        claim.status = ClaimStatus.WITHDRAWN
    asked_ago(world, complete, 4)
    asked_ago(world, withdrawn, 4)
    assert run_reminders(world, settings) == 0


def test_document_reminders_max_zero_sends_none(world: World) -> None:
    number = world.file_claim()
    asked_ago(world, number, 10)
    assert run_reminders(world, world.settings(document_reminders_max=0)) == 0


async def test_the_reminder_reaches_the_customer(world: World) -> None:
    openid = new_openid()
    world.bind("P2025000001", f"wechat:{openid}", last_message_ago=timedelta(hours=5))
    number = world.file_claim()
    missing = missing_names(world, number)
    asked_ago(world, number, 3)

    async with world.worker() as worker:
        await worker.run_jobs()
        await worker.run_jobs()  # the job runs once per interval, across workers
        await drain(worker)

    [text] = world.texts_to(openid)
    assert "理赔提醒" in text and number in text
    assert all(name in text for name in missing)
    assert world.sms_to(ZHANG_PHONE) == []


async def test_two_workers_running_the_jobs_queue_one_reminder(world: World) -> None:
    number = world.file_claim(LI)
    asked_ago(world, number, 3)
    async with world.services() as services:
        a = NotificationService(services, owner="a")
        b = NotificationService(services, owner="b")
        await a.run_jobs()
        await b.run_jobs()
    assert len(reminders(world, number)) == 1


def test_claim_job_runs_once_per_interval(world: World) -> None:
    hour = timedelta(hours=1)
    with transaction(world.sessions) as session:
        assert claim_job(session, "nightly", hour)
    with transaction(world.sessions) as session:
        assert not claim_job(session, "nightly", hour)
    with transaction(world.sessions) as session:
        assert claim_job(session, "other", hour)


@pytest.mark.postgres
def test_two_replicas_at_once_on_postgres_queue_one_reminder(pg_world: World) -> None:
    """Replica A has counted the reminder but not committed when replica B runs: B
    waits for A's row lock, then sees the reminder counted and queues none."""
    world = pg_world
    settings = world.settings()
    number = world.file_claim()
    asked_ago(world, number, 3)

    session_a = world.sessions()
    try:
        assert enqueue_document_reminders(session_a, settings) == 1
        result: list[int] = []
        errors: list[BaseException] = []

        def replica_b() -> None:
            try:
                result.append(run_reminders(world, settings))
            except BaseException as exc:  # pragma: no cover - shown by the assertion
                errors.append(exc)

        thread = threading.Thread(target=replica_b)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "replica B should wait for replica A's row lock"
        session_a.commit()
        thread.join(10)
    finally:
        session_a.close()
    assert errors == []
    assert result == [0]
    assert len(reminders(world, number)) == 1
