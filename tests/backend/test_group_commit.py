"""GroupCommit: the notifications worker commits many outcomes in few transactions;
nothing submitted may be lost, and one bad item must fail alone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.core.db import GroupCommit
from backend.models import ScheduledJob

pytestmark = pytest.mark.anyio


def _add_jobs(session: Session, names: list[str]) -> None:
    for name in names:
        session.add(ScheduledJob(name=name))
    session.flush()


def _names(session_factory: sessionmaker[Session]) -> set[str]:
    with session_factory() as session:
        return set(session.scalars(select(ScheduledJob.name).where(ScheduledJob.name.like("gc-%"))))


def _count_commits(session_factory: sessionmaker[Session]) -> list[int]:
    commits = [0]

    @event.listens_for(session_factory, "after_commit")
    def counted(_session: Session) -> None:
        commits[0] += 1

    return commits


async def test_items_submitted_together_commit_in_few_transactions(
    session_factory: sessionmaker[Session],
) -> None:
    group = GroupCommit(session_factory, _add_jobs)
    commits = _count_commits(session_factory)

    await asyncio.gather(*(group.submit(f"gc-{n:02}") for n in range(30)))

    assert _names(session_factory) == {f"gc-{n:02}" for n in range(30)}
    # all 30 were waiting when the committer first ran: one transaction
    assert commits[0] == 1


async def test_a_group_is_capped_at_max_items(session_factory: sessionmaker[Session]) -> None:
    group = GroupCommit(session_factory, _add_jobs, max_items=10)
    commits = _count_commits(session_factory)

    await asyncio.gather(*(group.submit(f"gc-{n:02}") for n in range(25)))

    assert len(_names(session_factory)) == 25
    assert commits[0] == 3  # 10 + 10 + 5


async def test_a_bad_item_fails_alone_and_the_rest_of_its_group_commits(
    session_factory: sessionmaker[Session],
) -> None:
    group = GroupCommit(session_factory, _add_jobs)
    await group.submit("gc-taken")

    results = await asyncio.gather(
        group.submit("gc-first"),
        group.submit("gc-a"),
        group.submit("gc-taken"),  # the primary key exists: this one cannot commit
        group.submit("gc-b"),
        return_exceptions=True,
    )

    assert results[0] is None and results[1] is None and results[3] is None
    assert isinstance(results[2], IntegrityError)
    assert _names(session_factory) == {"gc-taken", "gc-first", "gc-a", "gc-b"}


async def test_a_lone_item_that_fails_raises_to_its_submitter(
    session_factory: sessionmaker[Session],
) -> None:
    group = GroupCommit(session_factory, _add_jobs)
    await group.submit("gc-once")
    with pytest.raises(IntegrityError):
        await group.submit("gc-once")
    # and the committer still works afterwards
    await group.submit("gc-again")
    assert _names(session_factory) == {"gc-once", "gc-again"}
