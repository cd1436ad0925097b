"""Data Docs under a growing history.

GX sees only the newest results, and every run's page stays where ingest_runs links it.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import PROJECT_ROOT
from quality_batches import make_batch

from pipelines.quality import docs
from pipelines.quality.gate import ValidationOutcome, validate_batch
from pipelines.reporting.serve import docs_server

KEPT = 10  # two runs of five suites, so the third run archives the first one's results
RUNS = ("history-0", "history-1", "history-2")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ValidationOutcome]]:
    """Three validated batches in a project copy that keeps two runs' results."""
    root = tmp_path_factory.mktemp("history")
    shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(PROJECT_ROOT / "schemas" / "expectations", root / "schemas" / "expectations")
    context_dir = (root / "gx").resolve()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(docs, "KEPT_RESULTS", KEPT)
        outcomes = {run: validate_batch(make_batch(5), context_dir, run) for run in RUNS}
    return context_dir, outcomes


@pytest.fixture(scope="module")
def site_url(history: tuple[Path, dict[str, ValidationOutcome]]) -> Iterator[str]:
    """The docs served as `newsflow docs --serve` serves them."""
    server = docs_server(docs.site_dir(history[0]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _run_name(result: Path) -> str:
    return json.loads(result.read_text())["meta"]["run_id"]["run_name"]


@pytest.mark.slow
def test_the_store_keeps_the_newest_results_and_archives_the_rest(history) -> None:
    context_dir, outcomes = history
    stored = docs.stored_results(context_dir)
    assert len(stored) == KEPT
    assert {_run_name(result) for result in stored} == {"history-1", "history-2"}
    archive = docs.results_dir(context_dir).parent / docs.ARCHIVE_DIRNAME
    archived = sorted(archive.rglob("*.json"))
    assert len(archived) == len(outcomes["history-0"].pages)
    assert {_run_name(result) for result in archived} == {"history-0"}
    # Same folders as in the store: a result moved back is GX's again.
    store_paths = {path.relative_to(archive) for path in archived}
    assert {(Path(suite) / "history-0") for suite in outcomes["history-0"].pages} == {
        path.parents[1] for path in store_paths
    }
    assert not list(docs.results_dir(context_dir).glob("*/history-0")), (
        "the archived run left empty folders GX would walk"
    )


def test_an_archived_runs_pages_still_open_from_their_ingest_runs_link(history, site_url: str) -> None:
    context_dir, outcomes = history
    site = docs.site_dir(context_dir)
    cdn_urls = docs.vendored_urls(context_dir / docs.ASSETS_DIRNAME)
    quality_pages = json.dumps({suite: str(page) for suite, page in outcomes["history-0"].pages.items()})  # as stored
    for suite, link in json.loads(quality_pages).items():
        page = httpx.get(site_url + Path(link).relative_to(site).as_posix())
        assert page.status_code == 200, link
        assert "history-0" in page.text and suite in page.text
        assert "static/vendor/" in page.text and not [url for url in cdn_urls if url in page.text]


def test_the_index_lists_the_suites_and_the_stored_runs(history, site_url: str) -> None:
    index = httpx.get(site_url + docs.INDEX_PAGE)
    assert index.status_code == 200
    assert "history-1" in index.text and "history-2" in index.text
    assert "history-0" not in index.text  # archived: reached from ingest_runs.quality_pages, not from the index
    for suite in history[1]["history-2"].pages:
        assert f"expectations/{suite}.html" in index.text, suite


def test_the_index_lists_no_more_results_than_the_store_keeps() -> None:
    config = yaml.safe_load((PROJECT_ROOT / "gx" / docs.GX_CONFIG_FILE).read_text())
    assert (
        config["data_docs_sites"][docs.SITE_NAME]["site_index_builder"]["validation_results_limit"] <= docs.KEPT_RESULTS
    )


def test_a_rebuild_rerenders_the_stored_results_and_keeps_archived_runs_pages(history) -> None:
    context_dir, outcomes = history
    old_pages = {page: page.read_bytes() for page in outcomes["history-0"].pages.values()}
    lost = outcomes["history-2"].pages["articles"]
    lost.unlink()
    index = docs.build_docs(context_dir)
    cdn_urls = docs.vendored_urls(context_dir / docs.ASSETS_DIRNAME)
    assert lost.is_file() and not [url for url in cdn_urls if url in lost.read_text()]
    assert {page: page.read_bytes() for page in old_pages} == old_pages
    assert "history-2" in index.read_text()
