from __future__ import annotations

import pytest

from backend.core.errors import ApiError
from backend.documents.sniff import require_supported, sniff_media_type
from tests.backend.documents.conftest import AMR, HEIC, JPEG, PDF, PNG


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (PDF, "application/pdf"),
        (HEIC, "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic" + bytes(8), "image/heic"),
        (b"\x00\x00\x00\x10ftypmif1\x00\x00\x00\x00" + bytes(8), "image/heif"),
        (b"\x00\x00\x00\x10ftypheix\x00\x00\x00\x00" + bytes(8), "image/heic"),
        (AMR, "audio/amr"),
        (b"#!AMR-WB\n" + bytes(20), "audio/amr-wb"),
        (b"\x02#!SILK_V3" + bytes(20), "audio/silk"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(20), "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + bytes(20), "audio/mpeg"),
        (b"OggS\x00\x02" + bytes(22) + b"\x13OpusHead" + bytes(10), "audio/ogg"),
    ],
)
def test_bytes_decide_the_type(data: bytes, media_type: str) -> None:
    assert sniff_media_type(data) == media_type


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"this is not really a photo.jpg\n", id="text-named-jpg"),
        pytest.param(b"<html><script>alert(1)</script></html>", id="html"),
        pytest.param(b"GIF89a\x01\x00\x01\x00", id="gif"),
        pytest.param(b"PK\x03\x04" + bytes(30), id="zip-or-docx"),
        pytest.param(b"MZ\x90\x00" + bytes(30), id="windows-exe"),
        pytest.param(b"\x89PNG\r\n\x1a\x00" + bytes(20), id="png-signature-off-by-one"),
        pytest.param(b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif" + bytes(8), id="avif"),
        pytest.param(b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isommp41" + bytes(8), id="mp4"),
        pytest.param(b"\x00\x00\x00\x08ftypheic", id="ftyp-box-too-small"),
        pytest.param(b"\xff\xff\xff\xff" + bytes(20), id="not-an-mpeg-frame"),
        pytest.param(b" %PDF-1.4", id="pdf-signature-not-at-start"),
    ],
)
def test_anything_else_is_unsupported(data: bytes) -> None:
    assert sniff_media_type(data) is None
    with pytest.raises(ApiError) as refused:
        require_supported(data)
    assert (refused.value.status_code, refused.value.code) == (422, "unsupported_type")
