"""Documents on a claim's checklist: attaching one, and the automatic review once
the last one arrives."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from backend.claims.moves import S, Who, move, record_event
from backend.claims.repository import checklist_entries, get_claim, policy_of
from backend.claims.review import automatic_review, flag_risks
from backend.core.clock import local_today
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.domain import checklist as checklist_rules
from backend.domain.types import Actor
from backend.models import Claim, Document


def attach_document(
    session: Session,
    settings: Settings,
    claim: Claim,
    document_id: str,
    item_code: str,
    who: Who,
) -> Claim:
    document = session.get(Document, document_id)
    if document is None or (who.actor == Actor.CUSTOMER and document.uploaded_by != who.actor_id):
        raise ApiError(404, "document_not_found", "没有找到这份材料 / document not found")
    if document.claim_id is not None and document.claim_id != claim.id:
        raise ApiError(
            409, "document_in_use", "这份材料已用于另一个案件 / document belongs to another claim"
        )
    if claim.status not in (S.REPORTED, S.DOCUMENTS_PENDING, S.UNDER_REVIEW, S.REOPENED):
        raise ApiError(
            409,
            "claim_not_open",
            "这个案件现在不收材料 / this claim takes no documents now",
            status=claim.status.value,
        )
    entries = checklist_entries(session, claim)
    try:
        checklist_rules.ensure_on_checklist(list(entries), item_code)
    except checklist_rules.ChecklistError as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    document.claim_id = claim.id
    document.checklist_code = item_code
    document.attached_at = datetime.now(UTC)
    entry = entries[item_code]
    entry.received = True
    entry.rerequested_reason = None
    claim.updated_at = datetime.now(UTC)
    record_event(
        session,
        claim,
        who,
        "document_attached",
        data={"document_id": document.id, "item": item_code, "sha256": document.sha256},
    )
    session.flush()
    missing = [code for code, e in entries.items() if not e.received]
    if not missing and claim.status in (S.DOCUMENTS_PENDING, S.REOPENED):
        claim.documents_completed_at = datetime.now(UTC)
        move(session, settings, claim, S.UNDER_REVIEW, Who(Actor.SYSTEM_RULE, "checklist"), None)
        automatic_review(session, settings, claim)
    elif missing:
        flag_risks(session, settings, claim, policy_of(session, claim), local_today(settings))
    session.flush()
    return get_claim(session, claim.claim_number, Who(who.actor, who.actor_id))
