"""A claim document shown to staff: the view on record, the bytes inline.

The JSON API's download and the console's claim page both serve documents this way."""

from __future__ import annotations

from fastapi.responses import Response
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.documents.sniff import EXTENSIONS
from backend.models import Document


def record_staff_view(session: Session, username: str, role: str, document: Document) -> None:
    """Claim documents are sensitive personal information (PIPL): every staff view is on
    record, in the same transaction as the read."""
    audit.record(
        session,
        username,
        audit.DOCUMENT_VIEWED,
        document.id,
        claim_id=document.claim_id,
        role=role,
    )


def inline(document: Document, content: bytes) -> Response:
    extension = EXTENSIONS.get(document.media_type, "bin")
    return Response(
        content,
        media_type=document.media_type,
        headers={
            # Named after our id, never the sender's name (no header injection either).
            "Content-Disposition": f'inline; filename="{document.id}.{extension}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
