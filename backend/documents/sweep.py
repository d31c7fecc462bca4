"""Removing blobs that no document row points to.

Normally a blob and its row are written together: a rolled-back upload deletes its blob
(see `service._delete_on_rollback`). A process killed between writing the blob and the
commit leaves an orphan: encrypted, unreachable, but taking space. This finds them.

Only blobs older than a grace period are considered, so an upload still in flight (blob
written, row not yet committed) is never touched.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.documents.storage import DocumentStore
from backend.models import Document

BATCH = 500


@dataclass
class SweepReport:
    checked: int = 0
    orphans: int = 0
    deleted: int = 0


def sweep_orphan_blobs(
    session: Session,
    store: DocumentStore,
    *,
    grace: timedelta = timedelta(hours=24),
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[SweepReport], None] | None = None,
) -> SweepReport:
    """Delete (or with `dry_run` only count) blobs older than `grace` with no row."""
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    before = (now or datetime.now(UTC)) - grace
    report = SweepReport()
    for batch in _batches(store.stale_keys(before), BATCH):
        known = set(
            session.scalars(select(Document.storage_key).where(Document.storage_key.in_(batch)))
        )
        report.checked += len(batch)
        for key in batch:
            if key in known:
                continue
            report.orphans += 1
            if not dry_run:
                store.delete(key)
                report.deleted += 1
        if progress:
            progress(report)
    return report


def _batches(keys: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(keys)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
