"""Data Docs in a real headless Chromium with the network cut off: styled by the vendored assets, showing the results.

Chromium is driven through chromedriver's W3C WebDriver HTTP API with httpx (tests/browser.py).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import WebDriver
from conftest import PROJECT_ROOT
from quality_batches import make_batch

from pipelines.quality.gate import validate_batch
from pipelines.reporting.serve import docs_server

pytest_plugins = ("browser",)  # the `browser` fixture: headless Chromium

# What the page looks like to a person, gathered after its scripts ran and its fonts loaded.
PAGE_STATE_SCRIPT = """
const done = arguments[arguments.length - 1];
document.fonts.ready.then(() => {
  const style = (selector, property) => {
    const element = document.querySelector(selector);
    return element ? getComputedStyle(element)[property] : null;
  };
  done({
    bodyFont: getComputedStyle(document.body).fontFamily,
    navbarDisplay: style('nav.navbar', 'display'),
    cardRadius: style('.card', 'borderTopLeftRadius'),
    sheets: [...document.styleSheets].filter(s => s.href).map(s => {
      try { return [s.href, s.cssRules.length]; } catch (e) { return [s.href, -1]; }
    }),
    resources: performance.getEntriesByType('resource').map(r => [r.name, r.responseStatus]),
    scripts: {
      jquery: typeof window.jQuery,
      bootstrapTable: typeof (window.jQuery && window.jQuery.fn.bootstrapTable),
      bootstrapModal: typeof (window.jQuery && window.jQuery.fn.modal),
      vegaEmbed: typeof window.vegaEmbed,
    },
    text: document.body.innerText,
  });
});
"""


@pytest.fixture
def served_docs(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A validated batch with one bad article, its Data Docs served by the same server as `newsflow docs --serve`."""
    shutil.copytree(PROJECT_ROOT / "gx", tmp_path / "gx")
    shutil.copytree(PROJECT_ROOT / "schemas" / "expectations", tmp_path / "schemas" / "expectations")
    batch = make_batch(30)
    batch["articles"].loc[0, "word_count"] = 3
    outcome = validate_batch(batch, tmp_path / "gx", "browser-run")
    site = outcome.docs_path.parent
    server = docs_server(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    pages = {name: page.relative_to(site).as_posix() for name, page in outcome.pages.items()}
    try:
        yield base, {"index": "index.html", **pages}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _assert_styled_and_offline(state: dict[str, Any], base: str) -> None:
    assert "Segoe UI" in state["bodyFont"], f"Bootstrap's font stack is missing: {state['bodyFont']}"
    assert state["navbarDisplay"] == "flex", "the navbar is not laid out by Bootstrap"
    assert state["sheets"] and all(href.startswith(base) and rules > 0 for href, rules in state["sheets"]), state[
        "sheets"
    ]
    failed = [(name, status) for name, status in state["resources"] if not name.startswith(base) or status != 200]
    assert not failed, failed
    assert state["scripts"] == {
        "jquery": "function",
        "bootstrapTable": "function",
        "bootstrapModal": "function",
        "vegaEmbed": "function",
    }


def test_validation_results_render_styled_with_the_network_cut_off(
    browser: WebDriver, served_docs: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, pages = served_docs
    browser.open(base + pages["articles"])
    state = browser.execute_async(PAGE_STATE_SCRIPT)
    shot = browser.screenshot(tmp_path / "articles_results.png")
    assert shot.stat().st_size > 20_000, "the screenshot is (nearly) blank"
    _assert_styled_and_offline(state, base)
    assert state["cardRadius"] not in (None, "0px"), "result cards are not styled"
    text = state["text"]
    assert "articles" in text and "browser-run" in text
    assert "word_count equals the number of whitespace-separated words in body_text." in text
    assert "Every article has an id." in text


def test_the_index_lists_the_run(browser: WebDriver, served_docs: tuple[str, dict[str, str]]) -> None:
    base, pages = served_docs
    browser.open(base + pages["index"])
    state = browser.execute_async(PAGE_STATE_SCRIPT)
    _assert_styled_and_offline(state, base)
    assert "browser-run" in state["text"]
