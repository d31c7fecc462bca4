"""What a file is, decided by its first bytes: never by its name or Content-Type.

Claim documents are photos and scans (JPEG, PNG, HEIC/HEIF from phones, PDF); the
channels also pass on voice notes (WeChat voice is AMR or SILK, some apps send MP3 or
Ogg). Anything else is refused.
"""

from __future__ import annotations

from backend.core.errors import ApiError

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"
HEIC = "image/heic"
HEIF = "image/heif"
AMR = "audio/amr"
AMR_WB = "audio/amr-wb"
SILK = "audio/silk"
MP3 = "audio/mpeg"
OGG = "audio/ogg"

SUPPORTED_MEDIA_TYPES = (JPEG, PNG, PDF, HEIC, HEIF, AMR, AMR_WB, SILK, MP3, OGG)

EXTENSIONS = {
    JPEG: "jpg",
    PNG: "png",
    PDF: "pdf",
    HEIC: "heic",
    HEIF: "heif",
    AMR: "amr",
    AMR_WB: "awb",
    SILK: "silk",
    MP3: "mp3",
    OGG: "ogg",
}

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_HEIF_BRANDS = {b"mif1", b"msf1"}


def sniff_media_type(data: bytes) -> str | None:
    """The media type the bytes show, or None when they are not a type we accept."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"%PDF-"):
        return PDF
    heif = _heif(data)
    if heif:
        return heif
    if data.startswith(b"#!AMR-WB\n"):
        return AMR_WB
    if data.startswith(b"#!AMR\n"):
        return AMR
    # WeChat's SILK voice notes carry a 0x02 byte before the header.
    if data.startswith((b"#!SILK_V3", b"\x02#!SILK_V3")):
        return SILK
    if data.startswith(b"OggS") and (b"OpusHead" in data[:64] or b"Speex   " in data[:64]):
        return OGG
    if data.startswith(b"ID3") or _mpeg_audio_frame(data[:4]):
        return MP3
    return None


def require_supported(data: bytes) -> str:
    """The sniffed media type, or a 422 `unsupported_type` refusal."""
    media_type = sniff_media_type(data)
    if media_type is None:
        raise ApiError(
            422,
            "unsupported_type",
            "文件格式不支持，请上传 JPG、PNG、HEIC 照片或 PDF / "
            "unsupported file type: send a JPEG, PNG, HEIC photo or a PDF",
            accepted=list(SUPPORTED_MEDIA_TYPES),
        )
    return media_type


def _heif(data: bytes) -> str | None:
    # ISO base media file: the first box is `ftyp` with a major brand and a list of
    # compatible brands. Phones write major `heic`, or `mif1` with `heic` compatible.
    if len(data) < 16 or data[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(data[0:4], "big")
    if box_size < 16 or box_size % 4 != 0:
        return None
    major = data[8:12]
    compatible = {data[i : i + 4] for i in range(16, min(box_size, len(data)) - 3, 4)}
    if major in _HEIC_BRANDS:
        return HEIC
    if major in _HEIF_BRANDS:
        return HEIC if compatible & _HEIC_BRANDS else HEIF
    return None


def _mpeg_audio_frame(header: bytes) -> bool:
    # An MPEG audio frame header with no reserved values (a bare 0xFF start is not enough).
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return False
    version = (header[1] >> 3) & 0b11
    layer = (header[1] >> 1) & 0b11
    bitrate = header[2] >> 4
    sample_rate = (header[2] >> 2) & 0b11
    return version != 0b01 and layer != 0b00 and bitrate not in (0, 0xF) and sample_rate != 0b11
