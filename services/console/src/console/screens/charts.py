"""Line charts drawn on the server as inline SVG (no chart library, nothing from a CDN)."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 720, 240, 40, 16, 24, 36


def line_chart(periods: list[str], series: list[tuple[str, list[float | None]]], title: str) -> Markup:
    """Periods on x, one polyline (with dots) per series; y from 0 to the largest value. A None
    (e.g. no rating in a period) leaves its period out of the line rather than drawing a zero."""
    peak = max([v for _, values in series for v in values if v is not None] + [1.0])
    span_x = WIDTH - PAD_L - PAD_R
    span_y = HEIGHT - PAD_T - PAD_B
    step = span_x / max(len(periods) - 1, 1)

    def x(i: int) -> float:
        return PAD_L + (i * step if len(periods) > 1 else span_x / 2)

    def y(v: float) -> float:
        return PAD_T + span_y - v / peak * span_y

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<line class="axis" x1="{PAD_L}" y1="{PAD_T + span_y}" x2="{WIDTH - PAD_R}" y2="{PAD_T + span_y}"/>',
        f'<line class="axis" x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{PAD_T + span_y}"/>',
        f'<text x="{PAD_L - 6}" y="{PAD_T + 4}" text-anchor="end">{peak:g}</text>',
        f'<text x="{PAD_L - 6}" y="{PAD_T + span_y}" text-anchor="end">0</text>',
    ]
    label_every = max(1, len(periods) // 8)
    for i, period in enumerate(periods):
        if i % label_every == 0 or i == len(periods) - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{HEIGHT - 14}" text-anchor="middle">{escape(period[5:])}</text>')
    for n, (name, values) in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None)
        parts.append(f'<polyline class="line s{n}" points="{points}" data-series="{escape(name)}"/>')
        for i, v in enumerate(values):
            if v is None:
                continue
            tip = f"{escape(name)} {escape(periods[i])}: {v:g}"
            parts.append(f'<circle class="s{n}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3"><title>{tip}</title></circle>')
        lx = PAD_L + 10 + n * 150
        parts.append(
            f'<g class="legend"><rect class="s{n}" x="{lx}" y="4" width="10" height="10"/>'
            f'<text x="{lx + 14}" y="13">{escape(name)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it went through escape)
