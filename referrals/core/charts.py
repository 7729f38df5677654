"""Bar charts as plain SVG, drawn on the server: the same markup goes into the page and into the
PDF (WeasyPrint draws inline SVG), with no script, no font or image to fetch and no library to
keep up to date. Each chart names itself for screen readers (``role="img"``, a title and a
description); the page puts the table of its numbers beside it, which is what a screen reader
user reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Colours with at least 3:1 contrast against white and told apart without hue alone (the
# legend repeats the order, and every bar is labelled with its number).
PALETTE = ("#22344d", "#c2571a", "#3b7d4f", "#7a4f9a")
WIDTH = 640
LABEL_WIDTH = 200
VALUE_WIDTH = 64
ROW_HEIGHT = 22
BAR_HEIGHT = 14
TOP = 30
MAX_ROWS = 25


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def _number(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f}%"
    return f"{int(value):,}"


def _short(label: str, room: int = 28) -> str:
    """A label that fits left of the bars (the full one is in the bar's tooltip and the table)."""
    return label if len(label) <= room else label[:room - 1].rstrip() + "…"


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
              unit: str = "", maximum: float | None = None) -> Markup:
    """Horizontal bars, one row per label; several series stack. ``unit`` "%" draws shares
    against 100. Rows past ``MAX_ROWS`` are left out of the picture (the table has them all)."""
    labels = list(labels)[:MAX_ROWS]
    totals = [sum((s.values[i] or 0) for s in series) for i in range(len(labels))]
    top = maximum if maximum is not None else max(totals, default=0) or 1
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = TOP + ROW_HEIGHT * max(len(labels), 1) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">Bar chart; the table beside it lists the same '
        f'numbers.</desc>',
    ]
    x = LABEL_WIDTH
    for index, item in enumerate(series if len(series) > 1 else ()):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="16" fill="#1d2733">{escape(item.name)}</text>')
        x += 28 + 7 * len(item.name)
    if not labels:
        parts.append(f'<text x="{LABEL_WIDTH}" y="{TOP + 14}" fill="#4a5563">Nothing to show '
                     f'for this half-year.</text>')
    for row, label in enumerate(labels):
        y = TOP + row * ROW_HEIGHT
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT - 3}" text-anchor="end" '
                     f'fill="#1d2733">{escape(_short(label))}</text>')
        offset = 0.0
        for index, item in enumerate(series):
            value = item.values[row] or 0
            if value <= 0:
                continue
            width = plot * value / top
            parts.append(f'<rect x="{LABEL_WIDTH + offset:.1f}" y="{y}" width="{width:.1f}" '
                         f'height="{BAR_HEIGHT}" fill="{PALETTE[index % len(PALETTE)]}">'
                         f'<title>{escape(label)}, {escape(item.name)}: '
                         f'{_number(value, unit)}</title></rect>')
            offset += width
        shown = totals[row] if any(s.values[row] is not None for s in series) else None
        parts.append(f'<text x="{LABEL_WIDTH + offset + 6:.1f}" y="{y + BAR_HEIGHT - 3}" '
                     f'fill="#1d2733">{"—" if shown is None else _number(shown, unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
