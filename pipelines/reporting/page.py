"""The data-quality page: one self-contained HTML file from a `QualityReport`, its plots drawn as inline SVG.

The plots are drawn here (`charts`), from the report's few aggregated rows, so the file shows everything with
no network, no server and no script: opened from disk, served by `newsflow docs --serve`, or by the Airflow
plugin. Links to the GX Data Docs are relative to the Data Docs folder the page is written into.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import jinja2

from pipelines.quality.docs import INDEX_PAGE
from pipelines.reporting.charts import (
    COUNT,
    MEAN,
    SHARE,
    Point,
    bar_chart,
    line_chart,
    series_colors,
)
from pipelines.reporting.report import OTHER, IdleStretch, QualityReport, RunRow

TEMPLATES_DIR = Path(__file__).with_name("templates")
TEMPLATE = "quality_page.html.j2"
NOT_LOADED = "failed, not loaded"  # a run whose validation failed and that never reached the database
VALIDATED_AT = "%Y%m%dT%H%M%S.%fZ"  # GX's folder name for a result's run time
# The daily trends: (key, title, y axis title, how values read).
DAILY_TRENDS = (
    ("duplicate_share", "Duplicate share", "copies / (new articles + copies)", SHARE),
    ("quarantine_share", "Quarantine share", "inputs quarantined / inputs", SHARE),
    ("words_per_article", "Words per article", "mean words", MEAN),
    ("entities_per_article", "Entities per article", "mean distinct entities", MEAN),
    ("quotes_per_article", "Quotes per article", "mean quotes", MEAN),
)


@dataclass(frozen=True, slots=True)
class Plot:
    """One figure: its SVG (empty without data), how many data points it draws, and what its band or line means."""

    key: str
    title: str
    svg: str
    points: int
    note: str = ""


def _plot(
    key: str,
    title: str,
    series: dict[str, list[Point]],
    kind: str,
    y_title: str,
    *,
    daily: bool,
    limit: float | None = None,
    note: str = "",
    colors: dict[str, str] | None = None,
) -> Plot:
    points = sum(map(len, series.values()))
    svg = line_chart(series, kind, y_title, daily=daily, limit=limit, colors=colors) if points else ""
    return Plot(key, title, svg, points, note)


def _by_series(rows: list[tuple[str, Point]]) -> dict[str, list[Point]]:
    series: dict[str, list[Point]] = {}
    for name, point in rows:
        series.setdefault(name, []).append(point)
    return series


def trend_plots(report: QualityReport) -> list[Plot]:
    """The trends, each from aggregated rows; the expected band or limit drawn where a suite sets one on the
    same measure."""
    volume = _by_series([(row.source, Point(row.day, row.articles)) for row in report.volume])
    runs = _by_series(
        [
            (row.source, Point(row.loaded_at, row.articles, row.expected_min, row.expected_max))
            for row in report.run_volume
        ]
    )
    sources = series_colors([*volume, *runs], last=OTHER)  # a source has one colour in every plot
    plots = [
        _plot(
            "articles_per_source",
            "Articles per source per day",
            volume,
            COUNT,
            "new articles",
            daily=True,
            note=f"first seen per UTC day; sources past the busiest are summed as “{OTHER}”",
            colors=sources,
        ),
        _plot(
            "articles_per_run",
            "Articles per source per batch, against the expected range",
            runs,
            COUNT,
            "articles staged",
            daily=False,
            colors=sources,
            note="shaded: the range the batch suite expects from the source's previous batches (from its 3rd batch on)",
        ),
    ]
    if (bound := report.thresholds.get("rejected_share")) is not None:
        checked = bound.applies_from or 0
        shares = _by_series(
            [
                (row.source, Point(row.loaded_at, row.rejected / row.articles))
                for row in report.run_volume
                if row.articles and row.articles >= checked
            ]
        )
        plots.append(
            _plot(
                "rejected_share",
                "Share of a source's batch quarantined by validation",
                shares,
                SHARE,
                "rejected / articles staged",
                daily=False,
                limit=bound.value,
                colors=sources,
                note=f"batches of {checked:,.0f}+ articles, as the suite checks them; red line: {bound.words}",
            )
        )
    for key, title, y_title, kind in DAILY_TRENDS:
        values = {title: [Point(day.day, value) for day in report.daily if (value := getattr(day, key)) is not None]}
        plots.append(_plot(key, title, values, kind, y_title, daily=True))
    return plots


def refusal_plot(report: QualityReport) -> Plot:
    stacks: dict[str, dict[date, float]] = {}
    for row in report.daily_refusals:
        stacks.setdefault(row.reason, {})[row.day] = row.refused
    points = len(report.daily_refusals)
    svg = bar_chart(stacks, COUNT, "refused") if points else ""
    return Plot("refusals_per_day", "Refusals per day, by reason", svg, points)


def relative_link(page: str | os.PathLike[str], base: Path) -> str | None:
    """A result page as a link relative to the folder the quality page is in; None when it lies outside it."""
    target = Path(page).resolve()
    return target.relative_to(base.resolve()).as_posix() if target.is_relative_to(base.resolve()) else None


@dataclass(frozen=True, slots=True)
class RunView:
    """A row of the runs table: a loaded run, or one that validation stopped before it loaded."""

    run: RunRow | None
    run_id: str
    started: datetime
    validation: str  # passed | rows quarantined | not validated | failed, not loaded
    pages: dict[str, str]  # suite -> link to its result page

    @property
    def failed(self) -> bool:
        """A load that failed, or a batch a validation stopped."""
        return self.validation == NOT_LOADED or (self.run is not None and self.run.status == "failed")


def run_views(report: QualityReport, site: Path, result_page: Callable[[Path], Path]) -> list[RunView]:
    """Loaded runs with links to their result pages, plus runs that failed validation and never loaded (a batch-level
    check keeps a batch staged; it is not in the database, only in the stored results)."""
    loaded = {run.run_id for run in report.runs}
    refused = {validation.run_id: validation for validation in report.validations if not validation.success}
    views = []
    for run in report.runs:
        verdict = {True: "passed", False: "rows quarantined", None: "not validated"}[run.validation_success]
        pages: Mapping[str, str | os.PathLike[str]]
        if run.run_id in refused and run.validation_success is None:  # a failed run its validation stopped
            verdict, pages = (
                NOT_LOADED,
                {suite: result_page(path) for suite, path in refused[run.run_id].results.items()},
            )
        else:
            pages = dict(run.pages)
        links = {suite: link for suite, page in pages.items() if (link := relative_link(page, site))}
        views.append(RunView(run, run.run_id, run.started_at, verdict, links))
    oldest = min((run.started_at for run in report.runs), default=None)
    for validation in report.validations:
        if validation.run_id in loaded or validation.success:
            continue
        when = datetime.strptime(validation.validated_at, VALIDATED_AT).replace(tzinfo=UTC)
        if oldest is not None and when < oldest:
            continue
        links = {
            suite: link
            for suite, path in validation.results.items()
            if (link := relative_link(result_page(path), site))
        }
        views.append(RunView(None, validation.run_id, when, NOT_LOADED, links))
    # Failed runs first (a load that failed, a validation that stopped a batch), then newest first.
    return sorted(views, key=lambda view: (view.failed, view.started, view.run_id), reverse=True)


def run_rows(views: list[RunView], idle: list[IdleStretch]) -> list[RunView | IdleStretch]:
    """The runs table's rows: failed runs first, then the others newest first with the stretches of runs that
    changed nothing between them, one row each."""
    failed = [view for view in views if view.failed]
    rest: list[RunView | IdleStretch] = [view for view in views if not view.failed]
    rest.extend(idle)
    return [
        *failed,
        *sorted(rest, key=lambda row: row.started if isinstance(row, RunView) else row.last_at, reverse=True),
    ]


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "—"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(when=_when, seconds=_seconds, percent=_percent)
    env.tests["idle"] = lambda row: isinstance(row, IdleStretch)
    return env


def render_page(report: QualityReport, site: Path, result_page: Callable[[Path], Path], database: str) -> str:
    """The page as HTML; `site` is the Data Docs folder it is written into (links are relative to it)."""
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            report=report,
            runs=run_rows(run_views(report, site, result_page), report.idle),
            trends=trend_plots(report),
            refusals_plot=refusal_plot(report),
            docs_index=INDEX_PAGE,
            database=database,
            failing=sum(feed.status == "failing" for feed in report.feeds),
        )
    )
