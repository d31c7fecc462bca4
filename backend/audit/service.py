"""The audit trail of who looked at or was refused what (PIPL: claim documents are
sensitive personal information). Rows are added in the request's transaction."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.models import AuditEvent

logger = logging.getLogger(__name__)

DOCUMENT_VIEWED = "document_viewed"
VERIFICATION_LOCKED = "verification_locked"
LOGIN_LOCKED = "login_locked"


def record(session: Session, actor_id: str, action: str, subject: str, **data: Any) -> AuditEvent:
    event = AuditEvent(actor_id=actor_id, action=action, subject=subject, data=data)
    session.add(event)
    session.flush()
    return event


def recent(
    session: Session, *, action: str | None = None, subject: str | None = None, limit: int = 100
) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if subject:
        stmt = stmt.where(AuditEvent.subject == subject)
    return list(session.scalars(stmt).all())
