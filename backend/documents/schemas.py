from __future__ import annotations

from pydantic import BaseModel, Field


class DocumentOut(BaseModel):
    document_id: str = Field(examples=["d_3f1c9a0b7e2d4c6a8b9e0f1a2b3c4d5e"])
    media_type: str = Field(description="sniffed from the bytes", examples=["image/jpeg"])
    size: int = Field(description="bytes of the original file")
    sha256: str = Field(description="hex SHA-256 of the original file")
