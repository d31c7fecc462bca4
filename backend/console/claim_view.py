"""What the workbench's claim page shows, read in a fixed number of queries: the claim
with its policy, holder, checklist and risk flags, its documents by checklist item,
the events timeline, the legal clocks, and the customer's conversations.

Reads only; decisions go through the claims service, as the JSON API's do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.claims import repository
from backend.console.queries import TRANSCRIPT_LINES, Line, _line
from backend.core import clock
from backend.core.errors import ApiError
from backend.core.settings import Settings
from backend.domain import deadlines as deadline_rules
from backend.domain import payout
from backend.domain.state_machine import allowed_targets
from backend.domain.types import ClaimStatus
from backend.models import (
    ChannelIdentity,
    Claim,
    ClaimEvent,
    Conversation,
    Document,
    Policyholder,
    TranscriptMessage,
)

S = ClaimStatus
# Shown inline in the page; anything else (HEIC photos, voice) is offered as a file.
INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
INLINE_PDF = "application/pdf"


@dataclass(frozen=True)
class ConversationView:
    conversation_id: str
    channel: str
    lines: list[Line]


@dataclass
class ClaimPage:
    claim: Claim
    holder: Policyholder
    documents_by_item: dict[str, list[Document]]
    loose_documents: list[Document]  # on the claim but not on a checklist item
    events: list[ClaimEvent]
    clocks: deadline_rules.DeadlineStatus
    today: date
    conversations: list[ConversationView] = field(default_factory=list)

    @property
    def actions(self) -> set[str]:
        """The decisions the state machine allows from the claim's status now."""
        targets = allowed_targets(self.claim.status)
        offered: set[str] = set()
        if S.APPROVED in targets:
            offered.add("approve")
        if S.PARTIALLY_APPROVED in targets:
            offered.add("partially-approve")
        if S.REJECTED in targets:
            offered.add("reject")
        if S.DOCUMENTS_PENDING in targets or self.claim.status == S.DOCUMENTS_PENDING:
            offered.add("request-documents")
        if S.PAID in targets:
            offered.add("mark-paid")
        if S.CLOSED in targets:
            offered.add("close")
        if S.REOPENED in targets:
            offered.add("reopen")
        if self.claim.status == S.REJECTED and self.claim.rejection_notified_at is None:
            offered.add("rejection-notice")
        return offered


def is_image(document: Document) -> bool:
    return document.media_type in INLINE_IMAGES


def is_pdf(document: Document) -> bool:
    return document.media_type == INLINE_PDF


def claim_page(session: Session, settings: Settings, claim_number: str) -> ClaimPage | None:
    try:
        detail = repository.claim_detail(session, claim_number)
    except ApiError:
        return None
    claim, documents = detail.claim, detail.documents
    holder = claim.policy.policyholder
    by_item: dict[str, list[Document]] = defaultdict(list)
    loose: list[Document] = []
    codes = {entry.code for entry in claim.checklist}
    for document in documents:
        if document.checklist_code in codes:
            by_item[str(document.checklist_code)].append(document)
        else:
            loose.append(document)
    today = clock.local_today(settings)
    return ClaimPage(
        claim=claim,
        holder=holder,
        documents_by_item=dict(by_item),
        loose_documents=loose,
        events=detail.events,
        clocks=clock.deadline_status(settings, claim, today),
        today=today,
        conversations=conversations(session, claim, holder.id),
    )


def conversations(session: Session, claim: Claim, holder_id: int) -> list[ConversationView]:
    """The conversation the claim was reported in and those verified as its holder,
    each with its latest lines (oldest first)."""
    ids = set(
        session.scalars(
            select(ChannelIdentity.conversation_id).where(
                ChannelIdentity.policyholder_id == holder_id
            )
        ).all()
    )
    ids.add(claim.reported_by)
    known = {
        row.id: row.channel
        for row in session.scalars(select(Conversation).where(Conversation.id.in_(ids)))
    }
    if not known:
        return []
    # The latest lines of each, in one query: rank by id within the conversation.
    ranked = (
        select(
            TranscriptMessage.id,
            func.row_number()
            .over(
                partition_by=TranscriptMessage.conversation_id,
                order_by=TranscriptMessage.id.desc(),
            )
            .label("rank"),
        )
        .where(TranscriptMessage.conversation_id.in_(known))
        .subquery()
    )
    rows = session.scalars(
        select(TranscriptMessage)
        .join(ranked, ranked.c.id == TranscriptMessage.id)
        .where(ranked.c.rank <= TRANSCRIPT_LINES)
        .order_by(TranscriptMessage.id)
    ).all()
    lines: dict[str, list[Line]] = defaultdict(list)
    for row in rows:
        lines[row.conversation_id].append(_line(row))
    # The reporting conversation first, then the others by their latest line.
    order = sorted(
        known,
        key=lambda cid: (cid != claim.reported_by, -(lines[cid][-1].id if lines[cid] else 0)),
    )
    return [ConversationView(cid, known[cid], lines[cid]) for cid in order]


def yuan(amount: Decimal | None) -> str:
    return "—" if amount is None else payout.format_yuan(amount)
