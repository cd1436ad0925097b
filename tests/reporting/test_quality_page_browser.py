"""The data-quality page in a real headless Chromium with the network cut off: behind the real Airflow login, and
as the static file the pipeline writes after each load, after two runs (refused files, then a feed answering 500)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import WebDriver, free_port
from newsfake import NewsFake
from quality_runs import FAILING_FEED, STORIES_FEED, TwoRuns, two_runs

from pipelines.quality.docs import PAGE_NAME
from pipelines.reporting.refresh import quality_page_path

pytestmark = pytest.mark.slow
pytest_plugins = ("browser",)  # the `browser` fixture: headless Chromium

TRENDS = (
    "articles_per_source",
    "articles_per_run",
    "duplicate_share",
    "quarantine_share",
    "words_per_article",
    "entities_per_article",
    "quotes_per_article",
)
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
# The page loaded and laid out (its plots are inline SVG), then what a person sees, read from the DOM.
RENDERED = "return document.readyState === 'complete' && document.body.dataset.renderedMs"
FETCH_STATUS = (
    "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => done(r.status), e => done(String(e)));"
)
PAGE_STATE = """
const cells = (row, selector) => [...row.querySelectorAll(selector)].map(cell => cell.textContent.trim());
return {
  feeds: [...document.querySelectorAll('tr.feed')].map(row => [
    row.querySelector('.feed-name').textContent, row.dataset.status,
  ]),
  refusals: [...document.querySelectorAll('article.refusal')].map(group => ({
    reason: group.querySelector('.refusal-reason').textContent,
    count: Number(group.querySelector('.refusal-count').textContent),
    examples: [...group.querySelectorAll('tr.refusal-example')].map(row => cells(row, 'td')),
  })),
  plots: Object.fromEntries([...document.querySelectorAll('figure[data-plot]')].map(figure => [figure.dataset.plot, {
    points: Number(figure.dataset.points),
    marks: figure.querySelectorAll('svg .point, svg .bar').length,
  }])),
  runs: [...document.querySelectorAll('tr.run')].map(row => ({
    id: row.dataset.run, validation: row.dataset.validation,
    links: [...row.querySelectorAll('a.result-link')].map(link => link.href),
  })),
  expectations: document.querySelectorAll('tr.expectation').length,
  resources: performance.getEntriesByType('resource').map(entry => entry.name),
};
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, news_server: NewsFake) -> TwoRuns:
    return two_runs(tmp_path_factory.mktemp("quality_page"), news_server)


@pytest.fixture(scope="module")
def airflow_ui(airflow_env: dict[str, str], runs: TwoRuns) -> Iterator[tuple[str, str]]:
    """`airflow api-server` with the project's plugins, reading the two runs' published database.

    Yields (base URL, admin password).
    """
    port = free_port()
    env = {
        **airflow_env,
        "NEWSFLOW_DB": str(runs.settings.db_path),
        "NEWSFLOW_FEEDS": str(runs.settings.feeds_file),
        "NEWSFLOW_GX_DIR": str(runs.settings.gx_dir),
    }
    log = Path(env["AIRFLOW_HOME"]) / "api-server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["airflow", "api-server", "--port", str(port), "--host", "127.0.0.1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        password = json.loads((Path(env["AIRFLOW_HOME"]) / PASSWORD_FILE).read_text())["admin"]
        yield base, password
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _page_state(browser: WebDriver) -> dict[str, Any]:
    browser.wait_for(RENDERED)
    return browser.execute(PAGE_STATE)


def _assert_the_two_runs(state: dict[str, Any], runs: TwoRuns) -> None:
    # The failing feed comes first, the healthy one after it.
    assert state["feeds"] == [[FAILING_FEED, "failing"], [STORIES_FEED, "ok"]]
    # Each refused file's reason is listed with its example: source, uri, reason, detail.
    refused_uris = {example[1]: group for group in state["refusals"] for example in group["examples"]}
    assert "empty.json" in refused_uris and refused_uris["empty.json"]["reason"] == "no articles in file"
    for group in state["refusals"]:
        assert 1 <= len(group["examples"]) <= min(3, group["count"])
        assert all(source and uri and reason == group["reason"] for source, uri, reason, _ in group["examples"])
    # A plot per trend, each drawing every one of its data points.
    for trend in (*TRENDS, "refusals_per_day"):
        plot = state["plots"][trend]
        assert plot["points"] > 0 and plot["marks"] == plot["points"], (trend, plot)
    listed = [run["id"] for run in state["runs"]]  # newest first
    assert runs.feed_run in listed and runs.folder_run in listed
    assert listed.index(runs.feed_run) < listed.index(runs.folder_run)
    assert state["expectations"] > 20  # every expectation of the suites, in plain words
    # Nothing came from another host (the network is cut off anyway; nothing must have tried).
    assert all(name.startswith(("http://127.0.0.1", "file://", "data:")) for name in state["resources"]), state[
        "resources"
    ]


def test_the_quality_page_behind_the_airflow_login(
    browser: WebDriver, airflow_ui: tuple[str, str], runs: TwoRuns, tmp_path: Path
) -> None:
    base, password = airflow_ui
    page = f"{base}/newsflow-quality/{PAGE_NAME}"
    assert httpx.get(page, timeout=30).status_code == 401  # not signed in: nothing of the page
    browser.open(f"{base}/")
    browser.wait_for("return document.querySelector('input[name=password]')")
    browser.type("input[name=username]", "admin")
    browser.type("input[name=password]", password)
    browser.click("button[type=submit]")
    browser.wait_for("return document.cookie.includes('_token=') && !location.pathname.includes('login')")
    browser.open(page)
    state = _page_state(browser)
    _assert_the_two_runs(state, runs)
    # A run's link to its GX result page resolves through the plugin, in the signed-in session.
    link = next(link for run in state["runs"] for link in run["links"])
    assert link.startswith(f"{base}/newsflow-quality/"), link
    assert browser.execute_async(FETCH_STATUS, link) == 200
    assert browser.screenshot(tmp_path / "quality_page.png").stat().st_size > 50_000


def test_the_static_page_written_after_the_load_works_with_no_network(browser: WebDriver, runs: TwoRuns) -> None:
    path = quality_page_path(runs.settings)
    assert path.is_file(), "the load did not write the static page"
    browser.open(path.as_uri())
    state = _page_state(browser)
    _assert_the_two_runs(state, runs)
    # Each loaded run links to its GX result pages, files beside the page.
    for run in state["runs"]:
        assert run["validation"] in ("passed", "rows quarantined") and len(run["links"]) == 5, run
        assert all(Path(link.removeprefix("file://")).is_file() for link in run["links"])
