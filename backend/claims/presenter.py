"""Turn a claim into its API shape; staff see risk flags, events and documents."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.claims import repository
from backend.claims.schemas import (
    ChecklistItemOut,
    ClaimOut,
    DeadlineOut,
    DeadlinesOut,
    DocumentOut,
    EventOut,
    MissingItemOut,
    RiskFlagOut,
)
from backend.core import clock
from backend.core.settings import Settings
from backend.models import Claim, Document


def present(
    session: Session,
    settings: Settings,
    claim: Claim,
    *,
    staff: bool,
    with_events: bool = True,
    documents: list[Document] | None = None,
) -> ClaimOut:
    """`documents`: the claim's documents when the caller loaded them for many claims
    at once (lists); otherwise they are loaded here."""
    if documents is None:
        documents = repository.documents_of(session, claim)
    by_item: dict[str, list[str]] = {}
    for doc in documents:
        if doc.checklist_code:
            by_item.setdefault(doc.checklist_code, []).append(doc.id)
    checklist = [
        ChecklistItemOut(
            code=e.code,
            name=e.name,
            received=e.received,
            document_ids=by_item.get(e.code, []),
            rerequested_reason=e.rerequested_reason,
        )
        for e in claim.checklist
    ]
    status = clock.deadline_status(settings, claim, clock.local_today(settings))
    deadlines = DeadlinesOut(
        decision_due=status.due_date("decision"),
        payment_due=status.due_date("payment"),
        rejection_notice_due=status.due_date("rejection_notice"),
        advance_payment_flag=status.advance_payment_flag,
        items=[
            DeadlineOut(
                name=d.name,
                due=d.due,
                done_on=d.completed_on,
                overdue=d.overdue,
                soon_due=d.soon_due,
            )
            for d in status.deadlines
        ],
    )
    out = ClaimOut(
        claim_number=claim.claim_number,
        policy_number=claim.policy.policy_number,
        claim_type=claim.claim_type,
        status=claim.status,
        incident_date=claim.incident_date,
        location=claim.location,
        description=claim.description,
        claimed_amount=claim.claimed_amount,
        approved_amount=claim.approved_amount,
        payout_amount=claim.payout_amount,
        fast_track=claim.fast_track,
        checklist=checklist,
        missing=[
            MissingItemOut(code=e.code, name=e.name) for e in claim.checklist if not e.received
        ],
        deadlines=deadlines,
        created_at=claim.created_at,
        updated_at=claim.updated_at,
    )
    if staff:
        out.risk_flags = [RiskFlagOut(code=f.code, reason=f.reason) for f in claim.risk_flags]
        out.documents = [
            DocumentOut(
                document_id=d.id,
                item_code=d.checklist_code,
                media_type=d.media_type,
                size=d.size,
                sha256=d.sha256,
                created_at=d.created_at,
            )
            for d in documents
        ]
        if with_events:
            out.events = [
                EventOut(
                    actor=e.actor.value,
                    actor_id=e.actor_id,
                    kind=e.kind,
                    from_status=e.from_status,
                    to_status=e.to_status,
                    reason=e.reason,
                    data=e.data,
                    created_at=e.created_at,
                )
                for e in repository.events_of(session, claim)
            ]
    return out
