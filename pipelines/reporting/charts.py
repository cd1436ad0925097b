"""The data-quality page's plots as static SVG, drawn here in Python: the browser only lays them out.

Drawing a few hundred aggregated points needs no plotting library in the page: no script to parse, nothing
to compile, the plots show with scripts off and cost the browser as little as a table. Every data point is an
element (`circle.point` or `rect.bar`) with its value in a `<title>` (the hover tooltip).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from html import escape

WIDTH = 600
PLOT_HEIGHT = 200
LEFT, RIGHT, TOP, BOTTOM = 60, 34, 10, 24  # margins around the plot area, for the axes' labels
LEGEND_ROW = 16
LEGEND_CHARS = 90  # longer series names are cut in the legend (the full name is in its tooltip)
Y_TICKS = 5
X_TICKS = 6
POINT_RADIUS = 2.5
# Series of one plot are shifted apart by this many pixels each, so equal values at one time show as a row of
# dots rather than one dot hiding the others.
DODGE = 2.0
BAR_FILL = 0.8  # a bar's share of its day's width
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
BAND_COLOR = "#9ecae1"
LIMIT_COLOR = "#c0392b"
HOUR, DAY = 3600, 86400
TIME_STEPS = (HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY)
# How values read: a count (integer ticks only), a share (percent), or a mean.
COUNT, SHARE, MEAN = "count", "share", "mean"


@dataclass(frozen=True, slots=True)
class Point:
    x: date | datetime
    y: float
    lo: float | None = None  # the expected band at x, where a suite sets one
    hi: float | None = None


def epoch(value: date | datetime) -> float:
    """Seconds since 1970 in UTC; a day is its midnight."""
    moment = value if isinstance(value, datetime) else datetime.combine(value, time(), tzinfo=UTC)
    return moment.timestamp()


def nice_step(span: float, ticks: int, minimum: float = 0.0) -> float:
    """A step of 1, 2 or 5 times a power of ten giving at most about `ticks` intervals over `span`."""
    raw = max(span / ticks, minimum, 1e-9)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))


def value_ticks(top: float, kind: str) -> list[float]:
    """Ticks from 0 to past `top`; a count's axis never repeats a label (its step is at least 1)."""
    step = nice_step(top, Y_TICKS, 1.0 if kind == COUNT else 0.0)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def tick_label(value: float, kind: str, step: float) -> str:
    """As many decimals as the step needs, so neighbouring ticks read differently."""
    scaled, suffix = (value * 100, "%") if kind == SHARE else (value, "")
    decimals = max(0, -math.floor(math.log10(step * 100 if kind == SHARE else step) + 1e-9))
    return f"{scaled:,.{decimals}f}{suffix}"


def value_label(value: float, kind: str) -> str:
    return {COUNT: f"{value:,.0f}", SHARE: f"{value:.1%}"}.get(kind, f"{value:,.2f}")


def time_ticks(start: float, end: float, daily: bool) -> tuple[list[float], str]:
    """Tick positions on whole hours or UTC days, and their strftime format: a date, or a date and time."""
    steps = [step for step in TIME_STEPS if step >= DAY] if daily else TIME_STEPS
    step = next((step for step in steps if (end - start) / step <= X_TICKS), steps[-1])
    first = math.ceil(start / step) * step
    ticks = [float(t) for t in range(int(first), int(end) + 1, step)]
    return ticks, "%Y-%m-%d" if step >= DAY else "%m-%d %H:%M"


class Frame:
    """The plot area of one chart: maps values to pixels and draws the axes."""

    def __init__(self, x0: float, x1: float, top: float, kind: str):
        self.x0, self.x1, self.kind = x0, x1, kind
        self.ticks = value_ticks(top, kind)
        self.top = self.ticks[-1]
        self.width = WIDTH - LEFT - RIGHT

    def x(self, value: float) -> float:
        return LEFT + (value - self.x0) / (self.x1 - self.x0) * self.width

    def y(self, value: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - value / self.top)

    def value_axis(self, title: str) -> Iterator[str]:
        step = self.ticks[1] - self.ticks[0] if len(self.ticks) > 1 else 1.0
        yield '<g class="axis y">'
        for tick in self.ticks:
            y = self.y(tick)
            yield (
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                f'<text x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{tick_label(tick, self.kind, step)}</text>'
            )
        middle = TOP + PLOT_HEIGHT / 2
        yield (
            f'<text class="title" transform="translate(12 {middle:.0f}) rotate(-90)" text-anchor="middle">'
            f"{escape(title)}</text></g>"
        )

    def time_axis(self, daily: bool) -> Iterator[str]:
        ticks, fmt = time_ticks(self.x0, self.x1, daily)
        yield '<g class="axis x">'
        for tick in ticks:
            label = datetime.fromtimestamp(tick, UTC).strftime(fmt)
            yield f'<text x="{self.x(tick):.1f}" y="{TOP + PLOT_HEIGHT + 16}" text-anchor="middle">{label}</text>'
        yield "</g>"


def series_colors(names: Iterable[str], last: str | None = None) -> dict[str, str]:
    """A colour per series name, by the names' sorted order (`last`, e.g. "other", at the end): given every name a
    page draws, a source has one colour in every plot and its legends list it in the same place."""
    ordered = sorted(set(names), key=lambda name: (name == last, name))
    return {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(ordered)}


def _legend(names: Sequence[str], colors: Mapping[str, str]) -> Iterator[str]:
    if len(names) < 2:
        return
    yield '<g class="legend">'
    for n, name in enumerate(names):
        y = TOP + PLOT_HEIGHT + BOTTOM + n * LEGEND_ROW
        shown = name if len(name) <= LEGEND_CHARS else name[: LEGEND_CHARS - 1] + "…"
        yield (
            f'<rect x="{LEFT}" y="{y + 2}" width="10" height="10" fill="{colors[name]}"/>'
            f'<text x="{LEFT + 16}" y="{y + 11}"><title>{escape(name)}</title>{escape(shown)}</text>'
        )
    yield "</g>"


def _svg(label: str, names: Sequence[str], colors: Mapping[str, str], body: Iterator[str]) -> str:
    height = TOP + PLOT_HEIGHT + BOTTOM + (len(names) * LEGEND_ROW + 4 if len(names) > 1 else 0)
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}">'
        + "".join(body)
        + "".join(_legend(names, colors))
        + "</svg>"
    )


def _runs_of(points: Sequence[Point]) -> Iterator[list[tuple[date | datetime, float, float]]]:
    """Consecutive points that have a band, as (x, lo, hi), so a gap in the band is not bridged."""
    run: list[tuple[date | datetime, float, float]] = []
    for point in points:
        if point.lo is not None and point.hi is not None:
            run.append((point.x, point.lo, point.hi))
        elif run:
            yield run
            run = []
    if run:
        yield run


def line_chart(
    series: Mapping[str, Sequence[Point]],
    kind: str,
    title: str,
    *,
    daily: bool,
    limit: float | None = None,
    colors: Mapping[str, str] | None = None,
) -> str:
    """Points joined by lines over time, a colour per series (`colors`, which names every series, else by name); the
    expected band shaded, a limit as a dashed line. Series are drawn and listed in the colours' order, each
    shifted by DODGE pixels."""
    colors = colors if colors is not None else series_colors(series)
    series = {name: series[name] for name in sorted(series, key=list(colors).index)}
    points = [point for rows in series.values() for point in rows]
    times = [epoch(point.x) for point in points]
    x0, x1, pad = min(times), max(times), DAY if daily else HOUR
    if x1 - x0 < pad:  # one moment, or batches seconds apart: an axis of whole hours (days) around them
        x0, x1 = (x0 + x1) / 2 - pad, (x0 + x1) / 2 + pad
    values = [point.y for point in points] + [point.hi for point in points if point.hi is not None]
    frame = Frame(x0, x1, max([*values, limit or 0.0]) or 1.0, kind)

    def body() -> Iterator[str]:
        yield from frame.value_axis(title)
        yield from frame.time_axis(daily)
        for rows in series.values():
            for run in _runs_of(rows):
                edge = [(frame.x(epoch(x)), frame.y(hi)) for x, _, hi in run] + [
                    (frame.x(epoch(x)), frame.y(lo)) for x, lo, _ in reversed(run)
                ]
                yield f'<polygon class="band" fill="{BAND_COLOR}" points="{_coords(edge)}"/>'
        for n, (name, rows) in enumerate(series.items()):
            color, shift = colors[name], (n - (len(series) - 1) / 2) * DODGE
            xy = [(frame.x(epoch(p.x)) + shift, frame.y(p.y)) for p in rows]
            yield f'<g class="series" fill="{color}" stroke="{color}">'
            if len(xy) > 1:
                yield f'<polyline fill="none" points="{_coords(xy)}"/>'
            for (cx, cy), point in zip(xy, rows, strict=True):
                when = point.x.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M UTC")
                yield (
                    f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="{POINT_RADIUS}">'
                    f"<title>{escape(name)}, {when}: {value_label(point.y, kind)}</title></circle>"
                )
            yield "</g>"
        if limit is not None:
            y = frame.y(limit)
            yield (
                f'<line class="limit" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{LIMIT_COLOR}"'
                f' stroke-dasharray="6 4" stroke-width="2"><title>limit {value_label(limit, kind)}</title></line>'
            )

    return _svg(title, list(series) if len(series) > 1 else [], colors, body())


def bar_chart(stacks: Mapping[str, Mapping[date, float]], kind: str, title: str) -> str:
    """A bar per day, stacked by series in the order given."""
    days = sorted({day for rows in stacks.values() for day in rows})
    totals = [sum(rows.get(day, 0.0) for rows in stacks.values()) for day in days]
    frame = Frame(0.0, float(len(days)), max(totals) or 1.0, kind)
    band = frame.width / len(days)
    colors = {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(stacks)}
    every = math.ceil(len(days) / X_TICKS)

    def body() -> Iterator[str]:
        yield from frame.value_axis(title)
        yield '<g class="axis x">'
        for n, day in enumerate(days[::every]):
            x = LEFT + (n * every + 0.5) * band
            yield f'<text x="{x:.1f}" y="{TOP + PLOT_HEIGHT + 16}" text-anchor="middle">{day:%Y-%m-%d}</text>'
        yield "</g>"
        base = [0.0] * len(days)
        for name, rows in stacks.items():
            yield f'<g class="series" fill="{colors[name]}">'
            for i, day in enumerate(days):
                if (value := rows.get(day)) is None:
                    continue
                y0, y1 = frame.y(base[i]), frame.y(base[i] + value)
                base[i] += value
                x = LEFT + (i + (1 - BAR_FILL) / 2) * band
                yield (
                    f'<rect class="bar" x="{x:.1f}" y="{y1:.1f}" width="{band * BAR_FILL:.1f}" height="{y0 - y1:.1f}">'
                    f"<title>{escape(name)}, {day:%Y-%m-%d}: {value_label(value, kind)}</title></rect>"
                )
            yield "</g>"

    return _svg(title, list(stacks), colors, body())


def _coords(xy: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
