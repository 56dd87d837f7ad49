"""Inline SVG charts, written out by hand: horizontal (grouped or stacked) bars, histograms with
marked cutoffs, and line charts. No plotting library, no script; colours come from the
page's CSS classes (`s0`..`s3` series, `kept`, `drop`, `mark`, ...), so the page can restyle
them and they print.

Every chart scales to its container (viewBox, width 100%) and carries a <title>.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

Fmt = Callable[[float], str]

WIDTH = 760
FONT = 12
CHAR_W = 6.6  # average label character width at FONT px, to size and clip labels


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _text(x: float, y: float, s: str, cls: str = "", anchor: str = "start") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{c}>{escape(s)}</text>'


def _rect(x: float, y: float, w: float, h: float, cls: str, title: str = "") -> str:
    tip = f"<title>{escape(title)}</title>" if title else ""
    return (f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(w, 0))}" height="{_num(h)}" class="{cls}">'
            f"{tip}</rect>")


def _svg(height: float, title: str, body: list[str], width: int = WIDTH) -> str:
    return (f'<svg class="chart" viewBox="0 0 {width} {_num(height)}" width="100%" role="img" '
            f'xmlns="http://www.w3.org/2000/svg" style="max-width:{width}px">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _clip(label: str, width: float) -> str:
    most = max(3, int(width / CHAR_W))
    return label if len(label) <= most else label[: most - 1] + "…"


def _legend(series: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    out = []
    for name, cls in series:
        out += [_rect(x, y - 9, 10, 10, cls), _text(x + 14, y, name, "legend")]
        x += 24 + len(name) * CHAR_W
    return out


def bars(rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[tuple[str, str]], *, title: str,
         fmt: Fmt = lambda v: f"{v:,.0f}", label_width: int = 150, bar_h: int = 12) -> str:
    """Horizontal grouped bars: one group per row, one bar per series (name, css class)."""
    most = max((v for _, values in rows for v in values), default=0) or 1
    value_w = 80
    span = WIDTH - label_width - value_w - 10
    group_h = bar_h * len(series) + 8
    top = 22 if len(series) > 1 else 6
    body = _legend(series, label_width, 12) if len(series) > 1 else []
    for i, (label, values) in enumerate(rows):
        y0 = top + i * group_h
        body.append(_text(label_width - 6, y0 + group_h / 2 + 1, _clip(label, label_width - 8), "label", "end"))
        for j, ((name, cls), value) in enumerate(zip(series, values)):
            y = y0 + j * bar_h
            w = span * value / most
            body.append(_rect(label_width, y, w, bar_h - 2, cls, f"{label} {name}: {fmt(value)}"))
            if value:
                body.append(_text(label_width + w + 4, y + bar_h - 3, fmt(value), "value"))
    return _svg(top + len(rows) * group_h + 4, title, body)


def stacked(rows: Sequence[tuple[str, Sequence[tuple[float, str, str]], str]], *, title: str,
            label_width: int = 150, bar_h: int = 18, note_width: int = 190) -> str:
    """Horizontal stacked bars on one scale: rows of (label, [(value, css class, tooltip)], note at right)."""
    most = max((sum(v for v, _, _ in parts) for _, parts, _ in rows), default=0) or 1
    span = WIDTH - label_width - note_width - 10
    body = []
    for i, (label, parts, note) in enumerate(rows):
        y = 4 + i * (bar_h + 6)
        body.append(_text(label_width - 6, y + bar_h - 5, _clip(label, label_width - 8), "label", "end"))
        x = label_width
        for value, cls, tip in parts:
            w = span * value / most
            body.append(_rect(x, y, w, bar_h, cls, tip))
            x += w
        body.append(_text(label_width + span + 8, y + bar_h - 5, note, "value"))
    return _svg(8 + len(rows) * (bar_h + 6), title, body)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round numbers spanning [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for mult in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)  # the ticks cover [lo, hi]
    return [round(i * step, 10) for i in range(first, last + 1)]


def histogram(bins: Sequence[tuple[str, float]], *, title: str, x_title: str,
              marks: Sequence[tuple[float, str, str, str]] = (), regions: Sequence[tuple[float, float, str, str]] = (),
              height: int = 190, fmt: Fmt = lambda v: f"{v:,.0f}") -> str:
    """Vertical bars, one per bin, evenly spaced; `marks` (position, label, css class, label anchor) are lines
    and `regions` (start, end, label, css class) shaded bands, both in bin units (0 = the first bin's left
    edge, len(bins) = the last one's right edge)."""
    left, right, top, bottom = 50, 16, 26, 40 + (14 if regions else 0)
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    n = max(len(bins), 1)
    bw = plot_w / n
    most = max((v for _, v in bins), default=0) or 1
    ticks = nice_ticks(0, most, 4)
    most = max(most, ticks[-1])
    body = []
    labels = []
    for lo, hi, label, cls in regions:
        lo, hi = max(lo, 0), min(hi, n)
        if hi > lo:
            body.append(_rect(left + lo * bw, top, (hi - lo) * bw, plot_h, cls))
            labels.append(_text(left + (lo + hi) / 2 * bw, top + plot_h + 28, label, f"region-label {cls}", "middle"))
    for t in ticks:
        y = top + plot_h - plot_h * t / most
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(y)}" y2="{_num(y)}" class="grid"/>')
        body.append(_text(left - 4, y + 4, fmt(t), "tick", "end"))
    every = max(1, math.ceil(n / 16))  # at most ~16 bin labels
    for i, (label, value) in enumerate(bins):
        h = plot_h * value / most
        body.append(_rect(left + i * bw + 1, top + plot_h - h, bw - 2, h, "s0", f"{label}: {fmt(value)}"))
        if i % every == 0:
            body.append(_text(left + i * bw, top + plot_h + 14, label, "tick", "middle"))
    body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" class="axis"/>')
    for pos, label, cls, anchor in marks:  # the label left ("end") or right ("start") of its line
        x = left + min(max(pos, 0), n) * bw
        body.append(f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{top - 4}" y2="{top + plot_h}" class="{cls}"/>')
        body.append(_text(x + (3 if anchor == "start" else -3), top - 8, label, f"mark-label {cls}", anchor))
    body += labels  # under the axis, in the band's colour
    body.append(_text(left + plot_w / 2, height - 4, x_title, "axis-title", "middle"))
    return _svg(height, title, body)


def lines(series: Sequence[tuple[str, Sequence[tuple[float, float]], str, bool]], *, title: str, x_title: str,
          y_title: str, hlines: Sequence[tuple[float, str, str]] = (), height: int = 280) -> str:
    """A line chart: series of (name, [(x, y)], css class, draw dots); hlines (y, label, css class)."""
    left, right, top, bottom = 56, 16, 28, 42
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    xs = [x for _, pts, _, _ in series for x, _ in pts] or [0, 1]
    ys = [y for _, pts, _, _ in series for _, y in pts] + [y for y, _, _ in hlines] or [0, 1]
    xt, yt = nice_ticks(min(xs), max(xs), 6), nice_ticks(min(ys), max(ys), 5)
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def px(x: float) -> float:
        return left + plot_w * (x - x0) / ((x1 - x0) or 1)

    def py(y: float) -> float:
        return top + plot_h - plot_h * (y - y0) / ((y1 - y0) or 1)

    body = _legend([(name, cls) for name, _, cls, _ in series] + [(label, cls) for _, label, cls in hlines], left, 14)
    for t in yt:
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(py(t))}" y2="{_num(py(t))}" class="grid"/>')
        body.append(_text(left - 4, py(t) + 4, f"{t:g}", "tick", "end"))
    for t in xt:
        body.append(_text(px(t), top + plot_h + 14, f"{t:,.0f}", "tick", "middle"))
    for y, label, cls in hlines:
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(py(y))}" y2="{_num(py(y))}" class="{cls}">'
                    f"<title>{escape(label)}: {y:.4f}</title></line>")
    for name, pts, cls, dots in series:
        if len(pts) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            body.append(f'<polyline points="{path}" class="line {cls}"/>')
        if dots or len(pts) == 1:
            body += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" class="dot {cls}">'
                     f"<title>{escape(name)} step {x:,.0f}: {y:.4f}</title></circle>" for x, y in pts]
    body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" class="axis"/>')
    body.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" class="axis"/>')
    body.append(_text(left + plot_w / 2, height - 6, x_title, "axis-title", "middle"))
    body.append(f'<text x="12" y="{_num(top + plot_h / 2)}" class="axis-title" text-anchor="middle" '
                f'transform="rotate(-90 12 {_num(top + plot_h / 2)})">{escape(y_title)}</text>')
    return _svg(height, title, body)
