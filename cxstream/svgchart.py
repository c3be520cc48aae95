"""Tiny inline-SVG charts for `cxstream report`: grouped bars, lines and a timeline.

Hand-written rather than a plotting library: a report is a single HTML file that opens anywhere,
and these three shapes are all it needs. Every chart labels its values, so the picture can be
read without hovering.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")
W, H = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 70


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return value


def fmt(value: float) -> str:
    """Numbers as the report prints them everywhere (tables and charts agree)."""
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _axis(ymax: float, unit: str) -> list[str]:
    parts = []
    for i in range(5):
        v = ymax * i / 4
        y = H - BOTTOM - (H - TOP - BOTTOM) * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{fmt(v)}</text>')
    parts.append(f'<text x="14" y="{TOP - 10}" font-size="11" fill="#555">{escape(unit)}</text>')
    return parts


def bar_chart(categories: Sequence[str], series: dict[str, Sequence[float | None]], unit: str) -> str:
    """Horizontal grouped bars: one group per category (labelled on the left), one bar per series."""
    values = [v for vs in series.values() for v in vs if v is not None]
    vmax = _nice_max(max(values, default=1.0))
    n_ser = max(1, len(series))
    bar_h, gap, label_w, top = 11, 8, 260, 34
    group_h = bar_h * n_ser + gap
    height = top + group_h * max(1, len(categories)) + 30
    plot_w = W - label_w - RIGHT - 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" font-family="sans-serif">']
    for i in range(5):
        v = vmax * i / 4
        x = label_w + plot_w * i / 4
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - 26}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" font-size="10">{fmt(v)}</text>')
    parts.append(f'<text x="{W - RIGHT}" y="15" text-anchor="end" font-size="11" fill="#555">{escape(unit)}</text>')
    for ci, cat in enumerate(categories):
        y0 = top + ci * group_h
        label = cat if len(cat) <= 44 else cat[:43] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y0 + group_h / 2:.1f}" text-anchor="end" '
                     f'font-size="11">{escape(label)}</text>')
        for si, (_name, vs) in enumerate(series.items()):
            v = vs[ci]
            if v is None:
                continue
            w = plot_w * v / vmax
            y = y0 + si * bar_h
            parts.append(f'<rect x="{label_w}" y="{y:.1f}" width="{w:.1f}" height="{bar_h - 1}" '
                         f'fill="{PALETTE[si % len(PALETTE)]}"><title>{escape(cat)}: {fmt(v)}</title></rect>')
            parts.append(f'<text x="{label_w + w + 3:.1f}" y="{y + bar_h - 2:.1f}" font-size="9">{fmt(v)}</text>')
    parts += _legend(list(series))
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(names: list[str]) -> list[str]:
    parts = []
    x = LEFT
    for i, name in enumerate(names):
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="15" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return parts


def line_chart(series: dict[str, Sequence[tuple[float, float]]], unit: str, x_label: str = "seconds") -> str:
    """Lines of (x, y) points, one per series, on shared axes."""
    points = [p for ps in series.values() for p in ps]
    xmin = min((p[0] for p in points), default=0.0)
    xmax = max((p[0] for p in points), default=1.0)
    ymax = _nice_max(max((p[1] for p in points), default=1.0))
    span = (xmax - xmin) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">']
    parts += _axis(ymax, unit)

    def xy(p: tuple[float, float]) -> str:
        x = LEFT + (W - LEFT - RIGHT) * (p[0] - xmin) / span
        y = H - BOTTOM - (H - TOP - BOTTOM) * p[1] / ymax
        return f"{x:.1f},{y:.1f}"

    for i, (_name, ps) in enumerate(series.items()):
        if ps:
            parts.append(f'<polyline fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="2" '
                         f'points="{" ".join(xy(p) for p in ps)}"/>')
    for i in range(5):
        xv = xmin + span * i / 4
        x = LEFT + (W - LEFT - RIGHT) * i / 4
        parts.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" font-size="10">{fmt(xv)}</text>')
    parts.append(f'<text x="{W / 2}" y="{H - BOTTOM + 34}" text-anchor="middle" font-size="11" '
                 f'fill="#555">{escape(x_label)}</text>')
    parts += _legend(list(series))
    parts.append("</svg>")
    return "\n".join(parts)


def timeline(lanes: Sequence[str], marks: Sequence[tuple[str, float, str]], x_label: str) -> str:
    """Marks (lane, x, tooltip) on horizontal lanes: alerts over time, one lane per kind."""
    xs = [m[1] for m in marks]
    xmin, xmax = (min(xs), max(xs)) if xs else (0.0, 1.0)
    span = (xmax - xmin) or 1.0
    lane_h = 26
    height = TOP + lane_h * max(1, len(lanes)) + 50
    left = 170
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" font-family="sans-serif">']
    for i, lane in enumerate(lanes):
        y = TOP + lane_h * i + lane_h / 2
        parts.append(f'<line x1="{left}" x2="{W - RIGHT}" y1="{y}" y2="{y}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" font-size="11">{escape(lane)}</text>')
    for lane, xv, tip in marks:
        y = TOP + lane_h * lanes.index(lane) + lane_h / 2
        x = left + (W - left - RIGHT) * (xv - xmin) / span
        parts.append(f'<circle cx="{x:.1f}" cy="{y}" r="5" fill="#e15759" fill-opacity="0.7">'
                     f'<title>{escape(tip)}</title></circle>')
    parts.append(f'<text x="{(left + W) / 2}" y="{height - 12}" text-anchor="middle" font-size="11" '
                 f'fill="#555">{escape(x_label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
