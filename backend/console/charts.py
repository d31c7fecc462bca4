"""Small server-side SVG charts for the console's figures: bars (grouped or stacked)
and lines, with axes and Chinese labels as SVG <text> (the browser draws them with
the system's CJK font; nothing is rasterised here).

Every label and name is escaped: a claim type or a reason can never inject markup.
Colours are SVG presentation attributes, not style attributes, so the console's
Content-Security-Policy (no inline styles) lets them through. Each drawn value
carries `data-value` and a <title> tooltip, so a person hovering (and a test) can
read the exact figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#1664ff", "#00a870", "#ff8800", "#e34d59", "#8e56dd", "#14c9c9", "#86909c")
WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 34, 42
FONT = "PingFang SC, Microsoft YaHei, WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif"


MAX_BAR = 48  # px: one category alone is a bar, not a wall
GOOD, WARN, BAD, GREY = "#00a870", "#ff8800", "#e34d59", "#86909c"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per category; None: no value (not drawn)
    colour: str | None = None  # a meaning (GOOD, BAD...) rather than the next in PALETTE

    def fill(self, index: int) -> str:
        return self.colour or PALETTE[index % len(PALETTE)]


def _number(value: float) -> str:
    """A value as shown on an axis or in a tooltip: 1,234 or 12.5 or 0.25."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def nice_ticks(top: float, count: int = 4, *, whole: bool = False) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 × 10^n) up to at least `top`; with `whole`
    (counts of things), steps of at least 1."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1.0, 2.0 if step == 2.5 else step)
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _attr(value: object) -> str:
    return str(escape(str(value)))


def _frame(
    title: str, body: list[str], legend: Sequence[Series], width: int, height: int
) -> Markup:
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{_attr(title)}" font-family="{FONT}" '
        'font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    x = LEFT
    for index, series in enumerate(legend):
        colour = series.fill(index)
        parts.append(f'<rect x="{x}" y="10" width="10" height="10" rx="2" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="19" fill="#1f2329">{escape(series.name)}</text>')
        # CJK characters are about 11 px wide at this size, Latin ones about 6.
        x += 30 + sum(6 if c.isascii() else 11 for c in series.name)
    parts.extend(body)
    parts.append("</svg>")
    return Markup("".join(parts))


def _empty(title: str, width: int, height: int) -> Markup:
    return _frame(
        title,
        [
            f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle" '
            f'fill="#646a73" font-size="13">本期没有数据</text>'
        ],
        (),
        width,
        height,
    )


def _whole(series: Sequence[Series]) -> bool:
    return all(float(v).is_integer() for s in series for v in s.values if v is not None)


def _axes(
    categories: Sequence[str], top: float, unit: str, width: int, height: int, whole: bool
) -> tuple[list[str], float, list[float]]:
    """Gridlines with the y ticks, and the x labels (thinned so they never overlap);
    returns the parts, the top tick and each category's centre."""
    ticks = nice_ticks(top, whole=whole)
    scale_top = ticks[-1]
    plot_w = width - LEFT - RIGHT
    plot_h = height - TOP - BOTTOM
    parts: list[str] = []
    for tick in ticks:
        y = TOP + plot_h - plot_h * tick / scale_top
        parts.append(
            f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{"#c9cdd4" if tick == 0 else "#f0f1f2"}"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#646a73">'
            f"{escape(_number(tick))}</text>"
        )
    if unit:
        parts.append(f'<text x="{LEFT - 6}" y="{TOP - 8}" text-anchor="end" fill="#646a73">'
                     f"{escape(unit)}</text>")  # fmt: skip
    slot = plot_w / max(1, len(categories))
    centres = [LEFT + slot * (i + 0.5) for i in range(len(categories))]
    every = max(1, math.ceil(len(categories) * 60 / plot_w))  # a label needs ~60 px
    for i, (label, x) in enumerate(zip(categories, centres, strict=True)):
        if i % every:
            continue
        parts.append(
            f'<text class="x-label" x="{x:.1f}" y="{height - BOTTOM + 16}" text-anchor="middle" '
            f'fill="#646a73">{escape(label)}</text>'
        )
    return parts, scale_top, centres


def _tooltip(category: str, series: Series, value: float, unit: str, many: bool) -> str:
    name = f"{series.name} · " if many else ""
    return f"<title>{escape(category)} {escape(name)}{escape(_number(value))}{escape(unit)}</title>"


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    stacked: bool = False,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """Bars per category, one per series side by side (or stacked)."""
    if not categories or not any(v for s in series for v in s.values if v):
        return _empty(title, width, height)
    for s in series:
        if len(s.values) != len(categories):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(categories)}")
    if stacked:
        top = max(sum(s.values[i] or 0 for s in series) for i in range(len(categories)))
    else:
        top = max(v or 0 for s in series for v in s.values)
    parts, scale_top, centres = _axes(categories, top, unit, width, height, _whole(series))
    plot_h = height - TOP - BOTTOM
    base_y = TOP + plot_h
    slot = (width - LEFT - RIGHT) / len(categories)
    group_w = min(slot * 0.7, MAX_BAR * (1 if stacked else len(series)))
    bar_w = group_w if stacked else group_w / len(series)
    many = len(series) > 1
    for i, (category, centre) in enumerate(zip(categories, centres, strict=True)):
        below = 0.0
        for index, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            h = plot_h * value / scale_top
            if stacked:
                x = centre - group_w / 2
                y = base_y - plot_h * below / scale_top - h
                below += value
            else:
                x = centre - group_w / 2 + bar_w * index
                y = base_y - h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{s.fill(index)}" '
                f'data-value="{_attr(_number(value))}">'
                f"{_tooltip(category, s, value, unit, many)}</rect>"
            )
    return _frame(title, parts, series if many else (), width, height)


def line_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """One line per series; a missing value breaks the line there."""
    values = [v for s in series for v in s.values if v is not None]
    if not categories or not values:
        return _empty(title, width, height)
    for s in series:
        if len(s.values) != len(categories):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(categories)}")
    parts, scale_top, centres = _axes(categories, max(values), unit, width, height, _whole(series))
    plot_h = height - TOP - BOTTOM
    base_y = TOP + plot_h
    many = len(series) > 1
    for index, s in enumerate(series):
        colour = s.fill(index)
        runs: list[list[str]] = [[]]
        points: list[str] = []
        for category, centre, value in zip(categories, centres, s.values, strict=True):
            if value is None:
                runs.append([])
                continue
            y = base_y - plot_h * value / scale_top
            runs[-1].append(f"{centre:.1f},{y:.1f}")
            points.append(
                f'<circle class="point" cx="{centre:.1f}" cy="{y:.1f}" r="3" fill="{colour}" '
                f'data-value="{_attr(_number(value))}">'
                f"{_tooltip(category, s, value, unit, many)}</circle>"
            )
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline class="line" fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(run)}"/>'
                )
        parts.extend(points)
    return _frame(title, parts, series if many else (), width, height)
