"""The quality gate: GX suites from schemas/expectations/.

They quarantine bad rows, stop bad batches, and leave offline Data Docs.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import PROJECT_ROOT
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from quality_batches import make_batch

from pipelines.config import Settings
from pipelines.quality import docs, gate
from pipelines.quality.context import open_context
from pipelines.quality.derived import DERIVED_COLUMNS, with_derived_columns
from pipelines.quality.gate import (
    BatchHistory,
    BatchValidationError,
    TableCounts,
    ValidationOutcome,
    validate_batch,
)
from pipelines.quality.verdict import Refusals, kept_frame
from pipelines.tables import VALIDATED_TABLES

SUITES_DIR = PROJECT_ROOT / "schemas" / "expectations"
GX_DIR = Settings().gx_dir
CDN_LINK = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["'](https?://[^"']+)""")


@pytest.fixture(scope="module")
def gx_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_gx_project(tmp_path_factory.mktemp("project"))


def copy_gx_project(root: Path) -> Path:
    """A copy of the project's gx/ and suites, so runs write their results and docs under a temp dir."""
    shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(SUITES_DIR, root / "schemas" / "expectations")
    return root / "gx"


@pytest.fixture(scope="module")
def clean_run(gx_project: Path) -> ValidationOutcome:
    return validate_batch(make_batch(100), gx_project, "clean-run")


def _tree_digest(*folders: Path) -> dict[str, str]:
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# --- the suites are files, and the code agrees with them --------------------------------------


def test_every_staged_table_and_the_batch_have_a_suite_file() -> None:
    names = {path.stem for path in SUITES_DIR.glob("*.json")}
    assert names == {*VALIDATED_TABLES, gate.BATCH_SUITE}


def test_derived_columns_are_exactly_those_the_suite_files_declare() -> None:
    batch = make_batch(4)
    loaded = {"articles": batch["articles"], "entities": batch["entities"]}
    for table in VALIDATED_TABLES:
        declared = set(json.loads((SUITES_DIR / f"{table}.json").read_text())["meta"]["derived_columns"])
        derive = DERIVED_COLUMNS.get(table)
        added = set(derive(batch[table], loaded).columns) - set(batch[table].columns) if derive else set()
        assert added == declared, table


def test_the_language_suite_accepts_every_iso_639_1_code_the_detector_returns() -> None:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    detector_codes = {code for code in LanguageIdentifier.from_model_file(MODEL_FILE).nb_classes if len(code) == 2}
    suite = json.loads((SUITES_DIR / "articles.json").read_text())
    (language,) = [e for e in suite["expectations"] if e["kwargs"].get("column") == "language"]
    assert set(language["kwargs"]["value_set"]) == detector_codes


def test_validating_does_not_rewrite_the_committed_gx_files(gx_project: Path) -> None:
    suites = gx_project.parent / "schemas" / "expectations"
    before = _tree_digest(gx_project, suites)
    validate_batch(make_batch(3), gx_project, "rewrite-check")
    assert _tree_digest(gx_project, suites) == before


def test_the_plugin_reads_the_docs_folder_the_gx_config_names(gx_project: Path) -> None:
    config = yaml.safe_load((GX_DIR / "great_expectations.yml").read_text())
    site = config["data_docs_sites"][docs.SITE_NAME]["store_backend"]["base_directory"]
    assert (GX_DIR / site).resolve() == docs.site_dir(GX_DIR)
    # The plugin and the CLI read the folder without GX; GX itself must agree on where it writes the site.
    sites = open_context(gx_project.resolve()).variables.data_docs_sites
    assert sites is not None
    gx_site = sites[docs.SITE_NAME]["store_backend"]
    assert (gx_project / gx_site["base_directory"]).resolve() == docs.site_dir(gx_project)


# --- row level -------------------------------------------------------------------------------


def test_a_clean_batch_loads_whole_and_links_its_docs(clean_run: ValidationOutcome) -> None:
    assert clean_run.success
    assert clean_run.rejected.empty and not clean_run.batch_failures
    assert clean_run.counts["articles"] == TableCounts(staged=100, valid=100, rejected=0)
    valid = kept_frame("articles", make_batch(100)["articles"], Refusals.of(clean_run.rejected_rows))
    assert list(valid.columns) == list(make_batch(1)["articles"].columns)
    assert clean_run.articles_per_source == {"wire": 50, "daily": 50}
    assert clean_run.docs_path.is_file()
    assert set(clean_run.pages) == {*VALIDATED_TABLES, gate.BATCH_SUITE}
    assert all(page.is_file() and "clean-run" in page.parts for page in clean_run.pages.values())


BROKEN_ARTICLES = {
    # article index: (column, bad value, expectation the reason must name)
    1: ("published_at", pd.Timestamp("1985-06-01T00:00:00Z"), "expect_column_values_to_be_between(published_at)"),
    2: ("published_at", pd.Timestamp("2026-11-21T00:00:00Z"), "expect_column_pair_values_a_to_be_greater_than_b"),
    3: ("word_count", 7, "expect_column_pair_values_to_be_equal(word_count, body_word_count)"),
    4: ("title", None, "expect_column_values_to_not_be_null(title)"),
    5: ("language", "xx", "expect_column_values_to_be_in_set(language)"),
    6: ("url", "https://news.example.org/a?utm_source=x", "expect_column_pair_values_to_be_equal(url, url_canonical)"),
    7: ("body_text", "Too short.", "expect_column_value_lengths_to_be_between(body_text)"),
    8: ("article_id", None, "expect_column_values_to_not_be_null(article_id)"),
    11: ("url", "ftp://news.example.org/file", "expect_column_pair_values_to_be_equal(url, url_canonical)"),
}


def test_each_broken_row_is_quarantined_with_the_expectation_it_failed(gx_project: Path) -> None:
    batch = make_batch(60)
    articles = batch["articles"]
    for index, (column, value, _) in BROKEN_ARTICLES.items():
        articles.loc[index, column] = value
    articles.loc[9, ["title", "title_missing"]] = [None, True]  # flagged: allowed
    articles.loc[10, "url"] = None  # a seed-folder file: uri only
    articles.loc[12, "url"] = "https://bücher.de/nachrichten/12"  # an IDN host is canonical as it is
    outcome = validate_batch(batch, gx_project, "broken-articles")

    rejected = outcome.rejected[outcome.rejected["table_name"] == "articles"]
    assert sorted(rejected["raw_id"]) == sorted(f"r{index:05d}" for index in BROKEN_ARTICLES)
    for index, (_, _, expectation) in BROKEN_ARTICLES.items():
        (reason,) = rejected.loc[rejected["raw_id"] == f"r{index:05d}", "reason"]
        assert expectation in reason
    assert (rejected["stage"] == "validate").all()
    detail = json.loads(rejected.iloc[0]["detail"])
    assert detail["failed"] and detail["values"]["raw_id"] == rejected.iloc[0]["raw_id"]
    assert outcome.counts["articles"] == TableCounts(staged=60, valid=51, rejected=9)
    assert not outcome.success and not outcome.batch_failures  # under 20% of each source


def test_mentions_and_quotes_of_a_quarantined_article_go_with_it(gx_project: Path) -> None:
    batch = make_batch(20)
    batch["articles"].loc[0, "word_count"] = 1
    outcome = validate_batch(batch, gx_project, "cascade")
    children = outcome.rejected[outcome.rejected["article_id"] == "a00000"]
    assert set(children["table_name"]) == {"articles", "entity_mentions", "quotes"}
    assert children.loc[children["table_name"] == "quotes", "reason"].str.contains("its article was quarantined").all()
    assert (children["raw_id"] == "r00000").all()
    valid = kept_frame("entity_mentions", batch["entity_mentions"], Refusals.of(outcome.rejected_rows))
    assert "a00000" not in set(valid["article_id"])


def test_mentions_without_a_loading_article_still_get_integer_body_lengths() -> None:
    """When no article of the batch loads, the mentions' derived body lengths are all missing, yet integers:
    typed as text, the suite's offset comparisons would fail the whole batch."""
    batch = make_batch(1)
    for mentions in (batch["entity_mentions"], batch["entity_mentions"].iloc[0:0].astype({"article_id": "str"})):
        derived = with_derived_columns("entity_mentions", mentions, {"articles": batch["articles"].iloc[0:0]})
        assert str(derived["body_length"].dtype) == "Int64"
        assert derived["body_length"].isna().all()


def test_offsets_text_speakers_and_confidence_are_checked_against_the_body(gx_project: Path) -> None:
    batch = make_batch(20)
    mentions, quotes = batch["entity_mentions"], batch["quotes"]
    mentions.loc[0, "end_char"] = 100_000  # past the body
    mentions.loc[1, "mention_text"] = "Somebody Else"  # not the text at its offsets
    quotes.loc[0, "confidence"] = 1.5
    quotes.loc[1, "speaker_entity_id"] = "no-such-entity"
    quotes.loc[2, "speaker_entity_id"] = None  # unattributed: allowed
    quotes.loc[3, ["start_char", "end_char"]] = [50_000, 50_010]
    outcome = validate_batch(batch, gx_project, "offsets")

    reasons = outcome.rejected.set_index("record_id")["reason"]
    first, second = (f"{m.article_id}:{m.start_char}:{m.end_char}" for m in mentions.iloc[:2].itertuples())
    assert "expect_column_pair_values_a_to_be_greater_than_b(body_length, end_char)" in reasons[first]
    assert "expect_column_pair_values_to_be_equal(mention_text, body_slice)" in reasons[second]
    assert "confidence is in [0, 1]" in reasons[quotes.loc[0, "quote_id"]]
    assert "speaker_entity_known" in reasons[quotes.loc[1, "quote_id"]]
    assert "offsets lie inside the article body" in reasons[quotes.loc[3, "quote_id"]]
    assert set(outcome.rejected["table_name"]) == {"entity_mentions", "quotes"}
    assert outcome.counts["quotes"].rejected == 3


# --- batch level -----------------------------------------------------------------------------


def test_a_source_that_goes_silent_fails_the_batch_with_a_clear_message(gx_project: Path) -> None:
    history = BatchHistory({"wire": [50, 48, 52], "daily": [50, 50, 49], "agency": [50, 55, 45]})
    outcome = validate_batch(make_batch(100), gx_project, "silent-source", history=history)
    (failure,) = outcome.batch_failures
    assert "source 'agency': 0 articles staged (expected 10–270)" in failure
    with pytest.raises(BatchValidationError, match="agency"):
        outcome.raise_for_batch_failures()


def test_a_flood_and_a_high_quarantine_share_fail_the_batch(gx_project: Path) -> None:
    batch = make_batch(60, sources=("wire",))
    batch["articles"].loc[:35, "language"] = "xx"  # 60% of the source quarantined
    history = BatchHistory({"wire": [2, 2, 3]})
    outcome = validate_batch(batch, gx_project, "flood", history=history)
    assert len(outcome.batch_failures) == 2
    assert any("more than five times" in failure and "(expected 0–30)" in failure for failure in outcome.batch_failures)
    assert any("At most half" in failure and "36 quarantined" in failure for failure in outcome.batch_failures)


def test_without_enough_history_volume_is_not_judged(gx_project: Path) -> None:
    outcome = validate_batch(make_batch(4), gx_project, "young-source", history=BatchHistory({"wire": [90, 80]}))
    assert outcome.success


def test_a_batch_with_nothing_new_passes_without_importing_gx(tmp_path: Path) -> None:
    """GX's import costs seconds of CPU per process; a poll that brought nothing must not pay it (nor write results)."""
    project = copy_gx_project(tmp_path / "project").parent
    script = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(PROJECT_ROOT)!r}]\n"
        "from pipelines.quality.gate import BatchHistory, staged_frames, validate_batch\n"
        f"outcome = validate_batch(staged_frames({{}}), {str(project / 'gx')!r}, 'nothing-new', "
        "history=BatchHistory({}))\n"
        "print(json.dumps({'gx_imported': 'great_expectations' in sys.modules, 'success': outcome.success,\n"
        "                  'counts': {t: [c.staged, c.valid, c.rejected] for t, c in outcome.counts.items()},"
        " 'pages': list(outcome.pages),\n"
        "                  'docs': str(outcome.docs_path)}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    outcome = json.loads(run.stdout.splitlines()[-1])
    assert outcome["gx_imported"] is False
    assert outcome["success"] and outcome["pages"] == []
    assert outcome["counts"] == {table: [0, 0, 0] for table in VALIDATED_TABLES}
    assert Path(outcome["docs"]) == docs.site_dir(project / "gx") / docs.INDEX_PAGE
    assert not (project / "data").exists(), "an empty batch wrote validation results or docs"


def test_every_suite_passes_empty_frames_as_the_shortcut_assumes(gx_project: Path) -> None:
    """The shortcut above stands for running the suites on empty frames; a suite that fails those must end it."""
    context_dir = gx_project.resolve()
    run = gate._gx_run(context_dir, "empty-suites")
    frames = {table: with_derived_columns(table, frame, {}) for table, frame in gate.staged_frames({}).items()}
    rule = gate._suite_meta(context_dir, gate.BATCH_SUITE)["expected_range"]
    frames[gate.BATCH_SUITE] = gate._batch_frame(frames["articles"], (), None, rule)
    for suite, frame in frames.items():
        assert frame.empty and gate._run_suite(context_dir, suite, frame, run).success, suite


def test_an_empty_batch_from_a_source_with_history_is_still_judged(gx_project: Path) -> None:
    history = BatchHistory({"wire": [50, 48, 52]})
    outcome = validate_batch(gate.staged_frames({}), gx_project, "silent-empty", history=history)
    (failure,) = outcome.batch_failures
    assert "source 'wire': 0 articles staged (expected 10–270)" in failure
    assert set(outcome.pages) == {*VALIDATED_TABLES, gate.BATCH_SUITE}


def test_a_table_without_a_suite_is_refused(gx_project: Path) -> None:
    with pytest.raises(ValueError, match="no expectation suite"):
        validate_batch({**make_batch(2), "entity_aliases": pd.DataFrame()}, gx_project, "unknown-table")


def test_a_missing_column_fails_the_batch_instead_of_loading_unchecked_rows(gx_project: Path) -> None:
    batch = make_batch(5)
    batch["quotes"] = batch["quotes"].drop(columns=["confidence"])
    outcome = validate_batch(batch, gx_project, "missing-column")
    assert any(failure.startswith("quotes:") and "confidence" in failure for failure in outcome.batch_failures)


# --- Data Docs, offline ----------------------------------------------------------------------


def test_every_cdn_asset_gx_templates_load_is_vendored() -> None:
    import great_expectations

    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    used = {url for path in templates.glob("*.j2") for url in CDN_LINK.findall(path.read_text())}
    vendored = docs.vendored_urls(GX_DIR / docs.ASSETS_DIRNAME)
    assert used <= set(vendored), f"GX links assets not in gx/docs_assets/manifest.json: {sorted(used - set(vendored))}"
    for local in vendored.values():
        assert (GX_DIR / docs.ASSETS_DIRNAME / local).is_file(), local


def test_built_pages_link_only_local_assets_that_exist(clean_run: ValidationOutcome) -> None:
    for page in [clean_run.docs_path, *clean_run.pages.values()]:
        html = page.read_text()
        assert not CDN_LINK.findall(html), page
        for link in re.findall(r"""(?:src|href)=["']([^"'#]*static/vendor/[^"']+)""", html):
            assert (page.parent / link).resolve().is_file(), link


def test_full_rebuild_is_offline_too(gx_project: Path, clean_run: ValidationOutcome) -> None:
    index = docs.build_docs(gx_project)
    pages = list(index.parent.rglob("*.html"))
    assert any(page.parent.name == "expectations" for page in pages)
    assert not [page for page in pages if CDN_LINK.search(page.read_text())]


@pytest.mark.slow
def test_gx_stays_quiet_in_airflow_logs(tmp_path: Path) -> None:
    """After Airflow configures structlog, GX's import chatter and progress bars must not reach the log."""
    project = copy_gx_project(tmp_path / "project").parent
    script = (
        "import airflow.sdk, sys\n"
        f"sys.path[:0] = [{str(PROJECT_ROOT)!r}, {str(PROJECT_ROOT / 'tests')!r}]\n"
        "from quality_batches import make_batch\n"
        "from pipelines.quality.gate import validate_batch\n"
        f"validate_batch(make_batch(30), {str(project / 'gx')!r}, 'quiet')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    output = run.stdout + run.stderr
    assert "Skipping registering" not in output
    assert "Calculating Metrics" not in output


# --- the Airflow plugin ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def plugin():
    sys.path.insert(0, str(PROJECT_ROOT / "plugins"))
    try:
        import newsflow_quality_plugin
    finally:
        sys.path.remove(str(PROJECT_ROOT / "plugins"))
    return newsflow_quality_plugin


def _signed_in(app: FastAPI, plugin) -> FastAPI:
    app.dependency_overrides[plugin.require_ui_access] = lambda: None  # what a valid UI session yields
    return app


def _plugin_settings(gx_project: Path) -> Settings:
    """The copied project's gx/ and suites; no database yet, so the quality page is the empty one."""
    root = gx_project.parent
    return Settings(gx_dir=gx_project, schemas_dir=root / "schemas", db_path=root / "data" / "none.duckdb")


def test_the_plugin_adds_a_data_quality_view_backed_by_its_app(
    plugin, clean_run: ValidationOutcome, gx_project: Path
) -> None:
    (view,) = plugin.NewsflowQualityPlugin.external_views
    (app,) = plugin.NewsflowQualityPlugin.fastapi_apps
    assert view["name"] == "Data quality" and view["url_route"]
    assert view["href"].startswith(app["url_prefix"].lstrip("/") + "/")
    # Every route of the registered app runs the UI's access check (Airflow adds no authentication of its own).
    routes = [route for route in app["app"].routes if isinstance(route, APIRoute)]
    assert routes and all(
        any(dependency.call is plugin.require_ui_access for dependency in route.dependant.dependencies)
        for route in routes
    )
    # Mounted as Airflow's API server mounts plugin apps, the menu entry's link opens the quality page,
    # whose link to the GX Data Docs opens their index beside it.
    server = FastAPI()
    server.mount(app["url_prefix"], _signed_in(plugin.create_app(_plugin_settings(gx_project)), plugin))
    client = TestClient(server)
    page = client.get("/" + view["href"])
    assert page.status_code == 200 and "newsflow · data quality" in page.text
    assert 'href="index.html">GX Data Docs</a>' in page.text
    index = client.get("/" + view["href"].rsplit("/", 1)[0] + "/index.html")
    assert index.status_code == 200 and index.text == clean_run.docs_path.read_text()


def test_the_plugin_serves_docs_only_to_signed_in_users(plugin, clean_run: ValidationOutcome, gx_project: Path) -> None:
    app = plugin.create_app(_plugin_settings(gx_project))
    client = TestClient(app)
    assert client.get("/index.html").status_code == 401
    assert client.get("/quality.html").status_code == 401
    _signed_in(app, plugin)
    page = client.get("/")
    assert page.status_code == 200 and "Validation" in page.text
    assert client.get("/index.html").text == page.text
    assert client.get("/static/vendor/jquery@3.7.1/dist/jquery.min.js").status_code == 200
    assert client.get("/..%2F..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/static/..%2F..%2F..%2F..%2F..%2Fetc%2Fhostname").status_code == 404
    missing = client.get("/validations/no-such-run.html")
    assert missing.status_code == 404 and "run a validation" in missing.json()["detail"]
