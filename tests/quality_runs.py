"""Two real runs for the data-quality page's tests: a seed folder with refused files, then feeds with one that fails.

Both go through the pipeline's own entry points (`ingest_folder`, `ingest_feeds`) into real DuckDB files, with
validation in a copy of the project's gx/ so results and Data Docs land under the test's folder.
"""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from conftest import PROJECT_ROOT
from newsfake import NewsFake

from pipelines.config import Settings
from pipelines.http.fetcher import Fetcher, FetchPolicy
from pipelines.pipeline import ingest_feeds, ingest_folder

FAILING_FEED = "Broken wire"
STORIES_FEED = "Daily stories"
SEEDS_TAKEN = 2
# Files the folder run must refuse, each for its own reason: no article in the file, and a type it does not read.
REFUSED_FILES = {"empty.json": "[]", "notes.pdf": "%PDF-1.4 not an article"}


@dataclass(frozen=True, slots=True)
class TwoRuns:
    settings: Settings
    folder_run: str
    feed_run: str


def project_copy(root: Path) -> Path:
    """The project's gx/ beside its suites, under `root`, so validation writes results and docs there."""
    shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(PROJECT_ROOT / "schemas", root / "schemas")
    return root / "gx"


def two_runs(root: Path, server: NewsFake) -> TwoRuns:
    """Run 1: two seeds and two refused files. Run 2: a feed of two stories, and a feed answering 500."""
    seeds = root / "seeds"
    seeds.mkdir(parents=True)
    for path in sorted((PROJECT_ROOT / "seeds").glob("*.txt"))[:SEEDS_TAKEN]:
        shutil.copy(path, seeds / path.name)
    for name, text in REFUSED_FILES.items():
        (seeds / name).write_text(text)
    stories = server.distinct_stories(2)
    feeds = root / "feeds.yaml"
    feeds.write_text(
        textwrap.dedent(f"""\
        feeds:
          - {{url: "{server.stories_feed("quality-page-stories.rss", stories)}", name: {STORIES_FEED}}}
          - {{url: "{server.url("/status/500")}", name: {FAILING_FEED}}}
        """)
    )
    gx_dir = project_copy(root)
    settings = Settings(
        db_path=root / "data" / "news.duckdb",
        writer_db_path=root / "data" / ".writer" / "news.duckdb",
        seeds_dir=seeds,
        staging_dir=root / "data" / "staging",
        feeds_file=feeds,
        schemas_dir=root / "schemas",
        gx_dir=gx_dir,
        allow_hosts="127.0.0.1",
        workers=1,
    )
    folder = ingest_folder(settings, trigger="test")
    with Fetcher(FetchPolicy.from_settings(settings, per_host_delay=0.0, total_timeout=10.0)) as client:
        feed = ingest_feeds(settings, trigger="test", force=True, fetcher=client)
    assert feed is not None
    return TwoRuns(settings, folder.run_id, feed.run_id)
