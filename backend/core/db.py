"""Engine and session plumbing. Engines are made in the app's lifespan, never at import."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def make_engine(url: str, echo: bool = False) -> Engine:
    url = normalise_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 20
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        _SqliteWriters().listen(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy manage transactions, and enforce foreign keys.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# Execution option of a transaction that only reads (`transaction(..., read_only=True)`).
READ_ONLY = "claims_read_only"
WRITER_WAIT_SECONDS = 30.0


class _SqliteWriters:
    """SQLite has one writer at a time. A writing transaction takes the write lock at
    BEGIN (`BEGIN IMMEDIATE`), so two writers queue instead of failing mid-way (SQLite
    cannot upgrade a read transaction while another connection reads).

    Writers of this process queue on a lock of their own first, in arrival order:
    SQLite's busy handler makes a waiting writer sleep (1, 2, 5, ... up to 100 ms) and
    try again, so under load a turn slept long after the lock was free. Other processes
    (the notifications worker) still meet at SQLite's lock. A read-only transaction
    begins deferred and takes no write lock: it reads the last committed state (WAL)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)
        # A connection closed or invalidated mid-transaction still lets go.
        event.listen(engine.pool, "checkin", self._checkin)
        event.listen(engine.pool, "invalidate", self._invalidate)

    def _begin(self, connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
            return
        if not self._lock.acquire(timeout=WRITER_WAIT_SECONDS):
            raise sqlite3.OperationalError(
                f"database is locked: no write turn within {WRITER_WAIT_SECONDS:.0f} s"
            )
        connection.info["claims_writer"] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._release(connection.info)
            raise

    def _end(self, connection: Any) -> None:
        self._release(connection.info)

    def _checkin(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            self._release(record.info)

    def _invalidate(self, _dbapi_connection: Any, record: Any, _exception: Any) -> None:
        if record is not None:
            self._release(record.info)

    def _release(self, info: dict[Any, Any]) -> None:
        if info.pop("claims_writer", False):
            self._lock.release()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error. `read_only`: the
    work only reads, so on SQLite it takes no write lock (see `_SqliteWriters`)."""
    session = factory()
    try:
        if read_only:
            session.connection(execution_options={READ_ONLY: True})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def in_transaction(
    factory: sessionmaker[Session], work: Callable[[Session], T], *, read_only: bool = False
) -> T:
    """Run `work` in one transaction on a worker thread, so the event loop never blocks
    on the database. The async services (gateway, outbound, notifications) use this."""

    def run() -> T:
        with transaction(factory, read_only=read_only) as session:
            return work(session)

    return await asyncio.to_thread(run)


class GroupCommit(Generic[T]):
    """Group commit: many small writes in few transactions.

    `submit(item)` returns once `item` is committed. The first item starts a
    transaction at once; items submitted while it is in flight wait and go together
    in the next one (at most `max_items`), so under load the cost of a transaction
    (its round trips, its commit) is shared, and when idle nothing waits. A group that
    fails is written again item by item, so one bad item cannot sink the others: its
    submitter alone gets the error.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        write: Callable[[Session, list[T]], None],
        *,
        max_items: int = 200,
    ) -> None:
        self.factory = factory
        self.write = write
        self.max_items = max_items
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._waiting:
            group = self._waiting[: self.max_items]
            del self._waiting[: self.max_items]
            try:
                await self._commit([item for item, _ in group])
            except Exception as exc:
                if len(group) == 1:
                    _settle(group[0][1], exc)
                    continue
                for item, done in group:
                    await self._commit_one(item, done)
                continue
            for _, done in group:
                _settle(done, None)

    async def _commit(self, items: list[T]) -> None:
        await in_transaction(self.factory, lambda session: self.write(session, items))

    async def _commit_one(self, item: T, done: asyncio.Future[None]) -> None:
        try:
            await self._commit([item])
        except Exception as exc:
            _settle(done, exc)
        else:
            _settle(done, None)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # its submitter was cancelled
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
