"""SQLite (the embedded default): writers of one process queue for the write lock in
order instead of sleeping in SQLite's busy handler, and a transaction that only reads
takes no write lock at all, so it never waits behind a writer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from backend.core.db import make_engine, make_session_factory, transaction


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE rows (n INTEGER NOT NULL)"))
    yield make_session_factory(engine)
    engine.dispose()


def _count(factory: sessionmaker[Session]) -> int:
    with transaction(factory, read_only=True) as session:
        return int(session.execute(text("SELECT count(*) FROM rows")).scalar_one())


def test_a_read_does_not_wait_for_a_writer_and_sees_what_was_committed(
    factory: sessionmaker[Session],
) -> None:
    with transaction(factory) as session:
        session.execute(text("INSERT INTO rows VALUES (1)"))
    writing = threading.Event()
    finish = threading.Event()

    def slow_writer() -> None:
        with transaction(factory) as session:
            session.execute(text("INSERT INTO rows VALUES (2)"))
            writing.set()
            finish.wait(10)

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert writing.wait(10)
    began = time.monotonic()
    seen = _count(factory)
    waited = time.monotonic() - began
    finish.set()
    writer.join(10)
    assert seen == 1, "a read sees only what was committed"
    assert waited < 5, f"the read waited {waited:.1f} s for the writer"
    assert _count(factory) == 2


def test_a_read_only_transaction_begins_deferred_and_a_write_immediate(
    factory: sessionmaker[Session],
) -> None:
    begins: list[str] = []
    engine = factory.kw["bind"]

    @event.listens_for(engine, "before_cursor_execute")
    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    _count(factory)
    with transaction(factory) as session:
        session.execute(text("INSERT INTO rows VALUES (1)"))
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"]


def test_writers_of_one_process_all_commit_and_a_failed_one_lets_the_next_go(
    factory: sessionmaker[Session],
) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        for n in range(40):
            try:
                with transaction(factory) as session:
                    session.execute(text("INSERT INTO rows VALUES (:n)"), {"n": worker * 100 + n})
                    if n % 10 == 0:
                        session.execute(text("INSERT INTO no_such_table VALUES (1)"))
            except OperationalError as exc:
                if "no_such_table" not in str(exc):
                    errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    # 4 of each writer's 40 transactions failed and were rolled back, whole.
    assert _count(factory) == 6 * 36
    # The queue is free again: a connection used for two transactions in a row too.
    engine = factory.kw["bind"]
    with engine.connect() as connection:
        connection.execute(text("INSERT INTO rows VALUES (1)"))
        connection.commit()
        connection.execute(text("INSERT INTO rows VALUES (2)"))
        connection.commit()
    assert _count(factory) == 6 * 36 + 2
