"""Static SVG charts for the HTML report: line charts with shaded bands, horizontal bar charts.

Drawn here, not in the browser, so that report.html needs no script and no network: it opens
offline in any browser and prints as it shows. Each chart is an ``<svg class="chart">``; every
series is a ``<path class="series" data-series=NAME>`` (bands: ``class="band"``, bars:
``<rect class="bar">``), which is what the browser test measures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 34, 42
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


@dataclass(frozen=True)
class Series:
    """A line: ``ys[i]`` at ``xs[i]`` (NaN: a gap)."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    colour: str
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    """A shaded area between ``lower[i]`` and ``upper[i]`` at ``xs[i]``."""

    name: str
    xs: Sequence[float]
    lower: Sequence[float]
    upper: Sequence[float]
    colour: str


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 x 10^k, about ``count``
    of them (Heckbert's "nice numbers"); a single tick when lo == hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    k = 0
    while first + k * step <= hi + step * 1e-9:
        ticks.append(round(first + k * step, 12))
        k += 1
    if ticks[-1] < hi:
        ticks.append(ticks[-1] + step)
    return ticks


def compact(value: float) -> str:
    """An amount in a few characters: 950, 12.5k, 3.2M, 1.05bn (sign kept)."""
    a = abs(value)
    for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if a >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def line_chart(title: str, series: Sequence[Series], bands: Sequence[Band] = (), *,
               x_label: str = "years", y_label: str = "") -> str:
    """An SVG line chart of ``series`` over ``bands`` with axes, ticks and a legend."""
    xs = [x for s in series for x in s.xs if math.isfinite(x)]
    xs += [x for b in bands for x in b.xs if math.isfinite(x)]
    ys = [y for s in series for y in s.ys if math.isfinite(y)]
    ys += [y for b in bands for y in (*b.lower, *b.upper) if math.isfinite(y)]
    if not xs or not ys:
        return _empty(title)
    # x: exactly the data's span (a horizon of 20.3y is not drawn to 30), ticks inside it;
    # y: widened to round ticks and to include 0
    x_lo, x_hi = min(0.0, min(xs)), max(xs)
    x_ticks = [t for t in nice_ticks(x_lo, x_hi, 6) if x_lo - 1e-9 <= t <= x_hi + 1e-9]
    y_ticks = nice_ticks(min(0.0, min(ys)), max(0.0, max(ys)))
    sx = _Scale(x_lo, x_hi, LEFT, WIDTH - RIGHT)
    sy = _Scale(y_ticks[0], y_ticks[-1], HEIGHT - BOTTOM, TOP)
    parts = [_frame(title), _axes(x_ticks, y_ticks, sx, sy, x_label, y_label)]
    for b in bands:
        pts = [(x, lo, hi) for x, lo, hi in zip(b.xs, b.lower, b.upper, strict=True)
               if math.isfinite(x) and math.isfinite(lo) and math.isfinite(hi)]
        if pts:
            upper = " L".join(f"{sx(x):.1f},{sy(hi):.1f}" for x, _, hi in pts)
            lower = " L".join(f"{sx(x):.1f},{sy(lo):.1f}" for x, lo, _ in reversed(pts))
            parts.append(f'<path class="band" data-series="{escape(b.name)}" d="M{upper} '
                         f'L{lower} Z" fill="{b.colour}" fill-opacity="0.18" stroke="none">'
                         f"<title>{escape(b.name)}</title></path>")
    for s in series:
        parts.append(_polyline(s, sx, sy))
    parts.append(_legend([(s.name, s.colour, s.dashed, False) for s in series]
                         + [(b.name, b.colour, False, True) for b in bands]))
    return _svg(title, parts)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], colour: str,
              *, value_label: str = "") -> str:
    """A horizontal bar chart, one bar per label (top to bottom in the given order)."""
    if not labels:
        return _empty(title)
    row = 22
    height = TOP + row * len(labels) + BOTTOM
    left = 190
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values))
    sx = _Scale(ticks[0], ticks[-1], left, WIDTH - RIGHT - 60)
    parts = [f'<text class="title" x="{WIDTH / 2}" y="20" text-anchor="middle">'
             f"{escape(title)}</text>"]
    for t in ticks:
        x = sx(t)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{height - BOTTOM}" '
                     'stroke="#ddd"/>'
                     f'<text x="{x:.1f}" y="{height - BOTTOM + 16}" text-anchor="middle" '
                     f'class="tick">{compact(t)}</text>')
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = TOP + i * row
        x0, x1 = sorted((sx(0.0), sx(v)))
        parts.append(f'<text x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
                     f'class="tick">{escape(_clip(label, 28))}</text>'
                     f'<rect class="bar" data-series="{escape(label)}" x="{x0:.1f}" '
                     f'y="{y + 3}" width="{max(x1 - x0, 0.5):.1f}" height="{row - 6}" '
                     f'fill="{colour}"><title>{escape(label)}: {v:,.0f}</title></rect>'
                     f'<text x="{x1 + 4:.1f}" y="{y + row / 2 + 4:.1f}" class="tick">'
                     f"{compact(v)}</text>")
    parts.append(f'<text x="{(left + WIDTH - RIGHT) / 2}" y="{height - 8}" '
                 f'text-anchor="middle" class="axis">{escape(value_label)}</text>')
    return _svg(title, parts, height)


@dataclass(frozen=True)
class _Scale:
    """Maps [lo, hi] linearly onto [a, b] (pixels)."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo
        return self.a + (self.b - self.a) * ((v - self.lo) / span if span else 0.5)


def _svg(title: str, parts: Sequence[str], height: int = HEIGHT) -> str:
    return (f'<svg class="chart" role="img" aria-label="{escape(title)}" '
            f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')


def _empty(title: str) -> str:
    return _svg(title, [_frame(title), f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" '
                        'text-anchor="middle" class="axis">no data</text>'])


def _frame(title: str) -> str:
    return (f'<text class="title" x="{WIDTH / 2}" y="20" text-anchor="middle">'
            f"{escape(title)}</text>")


def _axes(x_ticks: Sequence[float], y_ticks: Sequence[float], sx: _Scale, sy: _Scale,
          x_label: str, y_label: str) -> str:
    out = []
    for t in y_ticks:
        y = sy(t)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
                   f'stroke="{"#888" if t == 0 else "#e3e3e3"}"/>'
                   f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
                   f"{compact(t)}</text>")
    for t in x_ticks:
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" '
                   f'y2="{HEIGHT - BOTTOM + 4}" stroke="#888"/>'
                   f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 17}" text-anchor="middle" '
                   f'class="tick">{t:g}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" '
               'stroke="#888"/>'
               f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle" '
               f'class="axis">{escape(x_label)}</text>'
               f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" text-anchor="middle" '
               f'class="axis" transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2})">'
               f"{escape(y_label)}</text>")
    return "".join(out)


def _polyline(s: Series, sx: _Scale, sy: _Scale) -> str:
    """The series as one path; a NaN starts a new segment (M) instead of drawing through."""
    cmds, move = [], True
    for x, y in zip(s.xs, s.ys, strict=True):
        if not (math.isfinite(x) and math.isfinite(y)):
            move = True
            continue
        cmds.append(f"{'M' if move else 'L'}{sx(x):.1f},{sy(y):.1f}")
        move = False
    dash = ' stroke-dasharray="6 4"' if s.dashed else ""
    return (f'<path class="series" data-series="{escape(s.name)}" d="{" ".join(cmds)}" '
            f'fill="none" stroke="{s.colour}" stroke-width="2"{dash}>'
            f"<title>{escape(s.name)}</title></path>")


def _legend(items: Sequence[tuple[str, str, bool, bool]]) -> str:
    out, x = [], LEFT + 8
    for name, colour, dashed, band in items:
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        mark = (f'<rect x="{x}" y="{TOP - 2}" width="18" height="10" fill="{colour}" '
                'fill-opacity="0.25"/>' if band else
                f'<line x1="{x}" y1="{TOP + 3}" x2="{x + 18}" y2="{TOP + 3}" stroke="{colour}" '
                f'stroke-width="2"{dash}/>')
        out.append(f'{mark}<text x="{x + 22}" y="{TOP + 7}" class="legend">{escape(name)}</text>')
        x += 30 + 7 * len(name)
    return "".join(out)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
