from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class Document(Base):
    """A stored document. The bytes live encrypted in the document store under
    `storage_key` (never derived from a user-given name)."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    checklist_code: Mapped[str | None] = mapped_column(String(40))
    media_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(20))
    original_name: Mapped[str | None] = mapped_column(String(200))
    uploaded_by: Mapped[str] = mapped_column(String(200))  # conversation id or staff username
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attached_at: Mapped[datetime | None]
