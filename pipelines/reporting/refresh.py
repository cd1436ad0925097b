"""The data-quality page from the snapshot: for the Airflow view and `newsflow docs`, written after each load.

It sits above `storage` (it opens the snapshot read-only, as every reader does) and below `pipeline`, which
calls `refresh_quality_page` (best effort) once a load has published. No Great Expectations import: the
page reads the results GX stored as plain JSON.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from pipelines.config import Settings
from pipelines.quality.docs import PAGE_NAME, result_page, site_dir
from pipelines.reporting.page import render_page
from pipelines.reporting.report import collect
from pipelines.sources.feed_config import FeedConfigError, load_feeds
from pipelines.storage.publish import read_view, temporary_path

log = logging.getLogger(__name__)


def quality_page_path(settings: Settings) -> Path:
    """Beside the Data Docs' index, so its links to result pages are relative and the docs server serves both."""
    return site_dir(settings.gx_dir) / PAGE_NAME


def disabled_feeds(settings: Settings) -> set[str]:
    """Source ids feeds.yaml switches off; none when there is no valid feeds.yaml (`newsflow feeds` reports why)."""
    try:
        return {feed.source_id for feed in load_feeds(settings.feeds_file, settings.poll_minutes) if not feed.enabled}
    except (FileNotFoundError, FeedConfigError):
        return set()


def build_quality_page(settings: Settings, now: datetime | None = None) -> str:
    """The page's HTML from the published snapshot (an empty page before the first load) and the stored results."""
    gx_dir = settings.gx_dir.resolve()
    with read_view(settings) as view:
        report = collect(
            view.con if view else None,
            gx_dir,
            settings.schemas_dir / "expectations",
            now or datetime.now(UTC),
            disabled_feeds(settings),
        )
    return render_page(report, site_dir(gx_dir), lambda path: result_page(gx_dir, path), str(settings.db_path))


def write_quality_page(settings: Settings) -> Path:
    """Write the page as a static file, atomically: a reader never sees half of it."""
    target = quality_page_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(target)
    try:
        tmp.write_text(build_quality_page(settings), encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # gone after the rename; left by a failed write, it would sit in the served folder
    return target


def refresh_quality_page(settings: Settings) -> Path | None:
    """Rewrite the static page after a load, or a failed one, best effort: the load's outcome is already decided
    (committed, or failing for its own reason), so a page that cannot be written is a warning, never the run's error."""
    try:
        return write_quality_page(settings)
    except Exception as exc:  # any failure of the page: the data and the run's result must not depend on it
        log.warning("the data-quality page was not refreshed: %s: %s", type(exc).__name__, exc)
        return None
