"""How many SMS segments a text costs (what the carrier bills).

GSM-7 texts fit 160 septets in one SMS, 153 per part when split (the rest is the
concatenation header); characters of the extension table take two septets. Anything
else (Chinese) goes as UCS-2: 70 UTF-16 units in one SMS, 67 per part. Parts are filled
greedily without splitting an escape pair or a surrogate pair, as phones do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SegmentCount:
    encoding: Literal["GSM-7", "UCS-2"]
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def _pack(widths: list[int], single: int, per_part: int) -> int:
    if sum(widths) <= single:
        return 1
    segments, used = 1, 0
    for width in widths:
        if used + width > per_part:
            segments += 1
            used = 0
        used += width
    return segments


def count_segments(text: str) -> SegmentCount:
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in text):
        widths = [2 if c in _GSM7_EXTENSION else 1 for c in text]
        return SegmentCount("GSM-7", sum(widths), _pack(widths, 160, 153))
    widths = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SegmentCount("UCS-2", sum(widths), _pack(widths, 70, 67))
