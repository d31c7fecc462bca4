from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from backend.audit import service
from backend.core.deps import SessionDep
from backend.core.security import AnyStaffDep

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditEventOut(BaseModel):
    id: int
    actor_id: str
    action: str
    subject: str
    data: dict[str, Any]
    created_at: datetime


class AuditEventListOut(BaseModel):
    items: list[AuditEventOut]


@router.get("/audit-events")
def audit_events(
    _staff: AnyStaffDep,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=40)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditEventListOut:
    """Security-relevant events for staff, newest first: document views (who, which
    document, when), identity verification locked for a policy, staff logins locked."""
    rows = service.recent(session, action=action, subject=subject, limit=limit)
    return AuditEventListOut(
        items=[
            AuditEventOut(
                id=r.id,
                actor_id=r.actor_id,
                action=r.action,
                subject=r.subject,
                data=r.data,
                created_at=r.created_at,
            )
            for r in rows
        ]
    )
