"""Data-quality gate: every staged batch is validated with the GX suites in schemas/expectations/ before `store` loads it.

GX (Great Expectations Core 1.x) runs from the file context in gx/ on pandas frames, since it has no
DuckDB datasource. Row-level failures become quarantine rows that name the failed expectations and the
valid rest loads; batch-level failures (a source far below its usual volume, too many rejects) make
the caller raise `BatchValidationError` and keep the batch staged. Data Docs are rebuilt after every
validation and rewritten to use the vendored copies of GX's CDN assets, so they render offline.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import shutil
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import pandas as pd

from pipelines.config import PROJECT_ROOT
from pipelines.tables import ARTICLE_CHILDREN, VALIDATED_TABLES, record_id
from pipelines.urls import InvalidUrlError, canonical_url

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.validation_definition import ValidationDefinition
    from great_expectations.data_context import FileDataContext

DEFAULT_CONTEXT_DIR = PROJECT_ROOT / "gx"
DEFAULT_DOCS_DIR = PROJECT_ROOT / "data" / "quality_docs"  # gx/great_expectations.yml's local_site, for readers without GX
DATASOURCE_NAME = "newsflow_staged"
BATCH_DEFINITION_NAME = "whole_frame"
SITE_NAME = "local_site"
ASSETS_DIRNAME = "docs_assets"  # inside the context dir: vendored CDN files and manifest.json
SITE_VENDOR_DIR = "static/vendor"  # inside the Data Docs site
SITE_IMAGES_DIR = "static/images"  # GX copies its logo and favicon there
# The navbar logo is loaded from GX's web bucket; the site has the same file locally.
GX_WEB_IMAGE = re.compile(r"https://great-expectations-web-assets\.s3\.[\w-]+\.amazonaws\.com/([\w.-]+)(?:\?[^\"']*)?(?=[\"'])")
# GX counts one folder too few for result pages (their favicon 404s); relink from the site root.
SITE_IMAGE_LINK = re.compile(r"(?<=[\"'])(?:\.\./)*static/images/")
VALIDATE_STAGE = "validate"

# Row tables in validation order: parents first, so children are checked against what will load.
BATCH_SUITE = "batch_sources"
QUARANTINE_COLUMNS = ("table_name", "record_id", "raw_id", "article_id", "stage", "reason", "detail")
# COMPLETE lists every failing row; the pandas index (a RangeIndex here) says which row it is.
RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}
DETAIL_TEXT_LIMIT = 300
GX_LOGGER = "great_expectations"


class BatchValidationError(RuntimeError):
    """A whole batch failed a batch-level check; it must stay staged for replay and nothing of it loads."""

    def __init__(self, run_id: str, failures: Sequence[str]) -> None:
        self.run_id = run_id
        self.failures = tuple(failures)
        super().__init__(f"batch {run_id} failed validation:\n- " + "\n- ".join(self.failures))


@dataclass(frozen=True, slots=True)
class BatchHistory:
    """Articles staged per source in recent loaded batches, oldest first; `store` reads it from its run records.

    List only sources this batch polled: a listed source absent from the batch counts as zero articles.
    """

    articles_per_source: Mapping[str, Sequence[int]]


@dataclass(frozen=True, slots=True)
class TableCounts:
    staged: int
    valid: int
    rejected: int


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    """What `store` needs: rows to load, rows to quarantine, and whether the batch may load at all."""

    run_id: str
    valid: dict[str, pd.DataFrame]
    rejected: pd.DataFrame  # QUARANTINE_COLUMNS, one row per rejected record
    batch_failures: tuple[str, ...]
    counts: dict[str, TableCounts]
    articles_per_source: dict[str, int]  # staged, for the next batch's BatchHistory
    docs_path: Path  # the Data Docs index
    pages: dict[str, Path]  # suite name -> this run's result page

    @property
    def success(self) -> bool:
        """True when every expectation passed: nothing quarantined and no batch-level failure."""
        return not self.batch_failures and self.rejected.empty

    def raise_for_batch_failures(self) -> None:
        if self.batch_failures:
            raise BatchValidationError(self.run_id, self.batch_failures)


@dataclass(frozen=True, slots=True)
class _Failure:
    """One failed expectation: its rows (None when it failed as a whole) and a sentence for people."""

    reason: str
    rows: tuple[int, ...] | None
    expectation: str
    kwargs: dict[str, Any]


# --- GX context -----------------------------------------------------------------------------


# GX logs hundreds of INFO lines when imported ("Skipping registering function ..."), which flood
# Airflow's structlog output; set before any GX import this module (or anyone) makes.
logging.getLogger(GX_LOGGER).setLevel(logging.WARNING)


@functools.lru_cache(maxsize=4)
def _context(context_dir: Path) -> FileDataContext:
    """Import GX and open the file context once per process: the import alone takes seconds."""
    import great_expectations as gx

    return gx.get_context(mode="file", context_root_dir=str(context_dir))


def preload(context_dir: Path | str = DEFAULT_CONTEXT_DIR) -> None:
    """Import GX and open the context now, in a process that forks task processes, so each task inherits them."""
    _context(Path(context_dir).resolve())


def gx_loaded() -> bool:
    """Whether this process already paid GX's import (a preloaded or earlier validation)."""
    return "great_expectations" in sys.modules


@functools.lru_cache(maxsize=16)
def _validation_definition(context_dir: Path, suite_name: str) -> ValidationDefinition:
    """The suite bound to its in-memory frame asset; created and saved under gx/ on first use only."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    context = _context(context_dir)
    try:
        return context.validation_definitions.get(suite_name)
    except DataContextError:
        pass
    try:
        datasource = context.data_sources.get(DATASOURCE_NAME)
    except KeyError:
        datasource = context.data_sources.add_pandas(DATASOURCE_NAME)
    asset = next((a for a in datasource.assets if a.name == suite_name), None) or datasource.add_dataframe_asset(suite_name)
    batch_definition = next(
        (b for b in asset.batch_definitions if b.name == BATCH_DEFINITION_NAME), None
    ) or asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)
    definition = gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=context.suites.get(suite_name))
    return context.validation_definitions.add(definition)


def _suite_meta(context_dir: Path, suite_name: str) -> dict[str, Any]:
    """The suite file's `meta`: derived-column rules and the batch suite's expected-range parameters."""
    return dict(_validation_definition(context_dir, suite_name).suite.meta)


def _run_suite(context_dir: Path, suite_name: str, frame: pd.DataFrame, run: Any) -> ExpectationSuiteValidationResult:
    definition = _validation_definition(context_dir, suite_name)
    return definition.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT, run_id=run)


def _failures(result: ExpectationSuiteValidationResult) -> list[_Failure]:
    """Failed expectations of one result; one that raised or has no row list failed for the table as a whole."""
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        kwargs = {key: value for key, value in config.kwargs.items() if key not in ("batch_id", "value_set")}
        columns = ", ".join(str(kwargs[key]) for key in ("column", "column_A", "column_B") if key in kwargs)
        reason = f"{config.description or config.type} [{config.type}({columns})]"
        error = (item.exception_info or {}).get("exception_message")
        rows = item.result.get("unexpected_index_list")
        if error or rows is None:
            failures.append(_Failure(f"{reason}: {error or 'failed'}", None, config.type, kwargs))
        else:
            failures.append(_Failure(reason, tuple(int(row) for row in rows), config.type, kwargs))
    return failures


# --- derived columns: what the suites' meta.derived_columns declare ------------------------


def _word_count(text: object) -> int | None:
    return len(text.split()) if isinstance(text, str) else None


def _slice(body: object, start: object, end: object) -> str | None:
    if not isinstance(body, str) or pd.isna(start) or pd.isna(end):
        return None
    return body[int(start) : int(end)]


def _bodies(frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]) -> pd.Series:
    """Each row's article body among the articles that will load; NaN when the article is not there."""
    articles = loaded.get("articles", pd.DataFrame(columns=["article_id", "body_text"]))
    return frame["article_id"].map(dict(zip(articles["article_id"], articles["body_text"], strict=True)))


def _lengths(bodies: pd.Series) -> pd.Series:
    """Body lengths, None where the body is missing; `.str` would refuse an empty or all-missing column."""
    return bodies.map(lambda body: len(body) if isinstance(body, str) else None)


def _known_entity_ids(loaded: Mapping[str, pd.DataFrame]) -> set[str]:
    return {
        entity_id
        for table in ("entities", "entity_mentions")
        if table in loaded
        for entity_id in loaded[table]["entity_id"].dropna()
    }


def _canonical(url: object) -> str | None:
    try:
        return canonical_url(url) if isinstance(url, str) else None
    except InvalidUrlError:
        return None


def _derive_articles(frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    return frame.assign(
        body_word_count=frame["body_text"].map(_word_count),
        url_canonical=frame["url"].map(_canonical),
    )


def _derive_mentions(frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    bodies = _bodies(frame, loaded)
    slices = [_slice(*values) for values in zip(bodies, frame["start_char"], frame["end_char"], strict=True)]
    return frame.assign(body_length=_lengths(bodies), body_slice=slices)


def _derive_quotes(frame: pd.DataFrame, loaded: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    known = _known_entity_ids(loaded)
    speakers = [None if pd.isna(speaker) else speaker in known for speaker in frame["speaker_entity_id"]]
    return frame.assign(body_length=_lengths(_bodies(frame, loaded)), speaker_entity_known=speakers)


Deriver = Callable[[pd.DataFrame, Mapping[str, pd.DataFrame]], pd.DataFrame]
DERIVED_COLUMNS: dict[str, Deriver] = {
    "articles": _derive_articles,
    "entity_mentions": _derive_mentions,
    "quotes": _derive_quotes,
}


# --- row-level validation -------------------------------------------------------------------


def _plain(value: object) -> object:
    """A JSON-ready value: numpy scalars unwrapped, missing as None, long texts cut."""
    if isinstance(value, str):
        return f"{value[:DETAIL_TEXT_LIMIT]}… ({len(value)} chars)" if len(value) > DETAIL_TEXT_LIMIT else value
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.tolist() if hasattr(value, "tolist") else value  # numpy scalars and arrays (list columns)


def _detail(row: pd.Series, columns: Iterable[str], failed: Iterable[_Failure]) -> str:
    """The failed expectations and the row's own values (long texts cut), as JSON for the quarantine table."""
    values = {column: _plain(row[column]) for column in columns}
    checks = [{"expectation": failure.expectation, "kwargs": failure.kwargs} for failure in failed]
    return json.dumps({"failed": checks, "values": values}, default=str, ensure_ascii=False)


def _quarantine_rows(
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str],
    reasons: Mapping[int, Sequence[_Failure]],
    raw_ids: Mapping[str, str],
) -> list[dict[str, object]]:
    rows = []
    for index, failed in sorted(reasons.items()):
        row = frame.loc[index]
        article_id = row.get("article_id")
        rows.append(
            {
                "table_name": table,
                "record_id": record_id(table, row),
                "raw_id": row["raw_id"] if table == "articles" else raw_ids.get(article_id),
                "article_id": article_id,
                "stage": VALIDATE_STAGE,
                "reason": f"{table}: " + "; ".join(dict.fromkeys(failure.reason for failure in failed)),
                "detail": _detail(row, columns, failed),
            }
        )
    return rows


def _orphans(table: str, frame: pd.DataFrame, rejected_articles: Mapping[str, str]) -> dict[int, list[_Failure]]:
    """Rows of an article the articles suite quarantined: they go with it, whatever their own checks say."""
    if table not in ARTICLE_CHILDREN or not rejected_articles:
        return {}
    return {
        int(index): [_Failure(f"its article was quarantined ({rejected_articles[article_id]})", None, "parent_article", {})]
        for index, article_id in frame["article_id"].items()
        if article_id in rejected_articles
    }


@dataclass(frozen=True, slots=True)
class _TableResult:
    valid: pd.DataFrame
    rejected: list[dict[str, object]]
    table_failures: list[str]
    result: ExpectationSuiteValidationResult


def _validate_table(
    context_dir: Path,
    table: str,
    staged: pd.DataFrame,
    loaded: Mapping[str, pd.DataFrame],
    rejected_articles: Mapping[str, str],
    raw_ids: Mapping[str, str],
    run: Any,
) -> _TableResult:
    """Validate one staged table (children of quarantined articles are removed first) and split its rows."""
    frame = staged.reset_index(drop=True)
    columns = list(frame.columns)
    reasons = _orphans(table, frame, rejected_articles)
    checked = frame.drop(index=list(reasons))
    derive = DERIVED_COLUMNS.get(table)
    result = _run_suite(context_dir, table, derive(checked, loaded) if derive else checked, run)
    table_failures = []
    for failure in _failures(result):
        if failure.rows is None:
            table_failures.append(f"{table}: {failure.reason}")
        for index in failure.rows or ():
            reasons.setdefault(index, []).append(failure)
    return _TableResult(
        valid=frame.drop(index=list(reasons)).reset_index(drop=True),
        rejected=_quarantine_rows(table, frame, columns, reasons, raw_ids),
        table_failures=table_failures,
        result=result,
    )


# --- batch-level validation -----------------------------------------------------------------


def _expected_range(counts: Sequence[int], rule: Mapping[str, float]) -> tuple[float, float]:
    """The range the batch suite's meta.expected_range states, from a source's recent counts; NaN without history."""
    if len(counts) < rule["min_history_batches"]:
        return math.nan, math.nan
    median = statistics.median(counts)
    return math.floor(rule["low_ratio"] * median), math.ceil(rule["high_ratio"] * median) + rule["high_slack"]


def _batch_frame(
    articles: pd.DataFrame, rejected_ids: Iterable[str], history: BatchHistory | None, rule: Mapping[str, float]
) -> pd.DataFrame:
    """One row per source of the batch or of its history: staged and rejected counts against the expected range."""
    staged = articles["source_id"].value_counts()
    rejected = articles.loc[articles["article_id"].isin(set(rejected_ids)), "source_id"].value_counts()
    recent = history.articles_per_source if history else {}
    rows = []
    for source_id in sorted(set(staged.index) | set(recent)):
        count = int(staged.get(source_id, 0))
        low, high = _expected_range(recent.get(source_id, ()), rule)
        rejected_count = int(rejected.get(source_id, 0))
        rows.append(
            {
                "source_id": source_id,
                "article_count": count,
                "rejected_count": rejected_count,
                "rejected_share": rejected_count / count if count else math.nan,
                "expected_min": low,
                "expected_max": high,
            }
        )
    return pd.DataFrame(rows, columns=["source_id", "article_count", "rejected_count", "rejected_share", "expected_min", "expected_max"])


def _describe_source(row: pd.Series) -> str:
    expected = "no history yet" if pd.isna(row["expected_min"]) else f"expected {row['expected_min']:.0f}–{row['expected_max']:.0f}"
    return (
        f"source {row['source_id']!r}: {row['article_count']} articles staged ({expected}), "
        f"{row['rejected_count']} quarantined"
    )


def _batch_failures(frame: pd.DataFrame, failures: Iterable[_Failure]) -> list[str]:
    return [
        f"{failure.reason} — {_describe_source(frame.loc[index])}" if index is not None else failure.reason
        for failure in failures
        for index in (failure.rows if failure.rows is not None else (None,))
    ]


# --- the gate -------------------------------------------------------------------------------


def _gx_run(run_id: str) -> Any:
    """GX's run key: results and their pages are filed under the run's name and start time."""
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=run_id, run_time=datetime.now(timezone.utc))


def _counts(staged: pd.DataFrame, valid: pd.DataFrame, rejected: pd.DataFrame, table: str) -> TableCounts:
    return TableCounts(staged=len(staged), valid=len(valid), rejected=int((rejected["table_name"] == table).sum()))


def validate_batch(
    frames: Mapping[str, pd.DataFrame],
    context_dir: Path | str,
    run_id: str,
    *,
    history: BatchHistory | None = None,
) -> ValidationOutcome:
    """Validate a staged batch before it loads; the CLI and the DAG both call this, then hand the outcome to `store`."""
    unknown = set(frames) - set(VALIDATED_TABLES)
    if unknown:
        raise ValueError(f"no expectation suite for table(s) {sorted(unknown)}; suites exist for {list(VALIDATED_TABLES)}")
    context_dir = Path(context_dir).resolve()
    run = _gx_run(run_id)
    articles = frames.get("articles", pd.DataFrame(columns=["article_id", "raw_id", "source_id"]))
    raw_ids = dict(zip(articles["article_id"], articles["raw_id"], strict=True))
    loaded: dict[str, pd.DataFrame] = {}
    rejected: list[dict[str, object]] = []
    batch_failures: list[str] = []
    results = []
    rejected_articles: dict[str, str] = {}
    for table in (name for name in VALIDATED_TABLES if name in frames):
        outcome = _validate_table(context_dir, table, frames[table], loaded, rejected_articles, raw_ids, run)
        loaded[table] = outcome.valid
        rejected.extend(outcome.rejected)
        batch_failures.extend(outcome.table_failures)
        results.append(outcome.result)
        if table == "articles":
            rejected_articles = {str(row["article_id"]): str(row["reason"]) for row in outcome.rejected}
    sources = _batch_frame(articles, rejected_articles, history, _suite_meta(context_dir, BATCH_SUITE)["expected_range"])
    batch_result = _run_suite(context_dir, BATCH_SUITE, sources, run)
    batch_failures.extend(_batch_failures(sources, _failures(batch_result)))
    results.append(batch_result)
    pages = _build_docs_for(context_dir, results)
    rejected_frame = pd.DataFrame(rejected, columns=list(QUARANTINE_COLUMNS))
    return ValidationOutcome(
        run_id=run_id,
        valid=loaded,
        rejected=rejected_frame,
        batch_failures=tuple(batch_failures),
        counts={table: _counts(frames[table], loaded[table], rejected_frame, table) for table in loaded},
        articles_per_source={str(k): int(v) for k, v in articles["source_id"].value_counts().items()},
        docs_path=_site_dir(context_dir) / "index.html",
        pages=pages,
    )


# --- Data Docs, offline ---------------------------------------------------------------------


def _site_dir(context_dir: Path) -> Path:
    site = _context(context_dir).variables.data_docs_sites[SITE_NAME]
    return (context_dir / site["store_backend"]["base_directory"]).resolve()


@functools.lru_cache(maxsize=4)
def _vendored_urls(assets_dir: Path) -> dict[str, str]:
    """CDN URL -> the vendored file, relative to the site's vendor dir, from docs_assets/manifest.json."""
    manifest = json.loads((assets_dir / "manifest.json").read_text(encoding="utf-8"))
    return {url: f"{spec}/{name}" for spec, files in manifest["packages"].items() for name, urls in files.items() for url in urls}


def _install_assets(assets_dir: Path, site_dir: Path) -> None:
    """Copy the vendored assets into the site once per manifest version, so the site stands alone."""
    target = site_dir / SITE_VENDOR_DIR
    manifest = (assets_dir / "manifest.json").read_bytes()
    if (target / "manifest.json").is_file() and (target / "manifest.json").read_bytes() == manifest:
        return
    shutil.copytree(assets_dir, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py"))


def _make_offline(html_path: Path, site_dir: Path, urls: Mapping[str, str]) -> None:
    """Point one page's CDN links at the vendored copies and its GX images at the site's own, relative to the page."""
    cdn = re.compile("|".join(re.escape(url) for url in sorted(urls, key=len, reverse=True)) + r"(?=[\"'])")
    root = "../" * len(html_path.parent.relative_to(site_dir).parts)
    text = html_path.read_text(encoding="utf-8")
    offline = cdn.sub(lambda match: f"{root}{SITE_VENDOR_DIR}/{urls[match.group(0)]}", text)
    offline = GX_WEB_IMAGE.sub(lambda match: f"{root}{SITE_IMAGES_DIR}/{match.group(1)}", offline)
    offline = SITE_IMAGE_LINK.sub(f"{root}{SITE_IMAGES_DIR}/", offline)
    if offline != text:
        html_path.write_text(offline, encoding="utf-8")


def _offline_site(context_dir: Path, pages: Iterable[Path]) -> None:
    assets_dir = context_dir / ASSETS_DIRNAME
    site_dir = _site_dir(context_dir)
    _install_assets(assets_dir, site_dir)
    urls = _vendored_urls(assets_dir)
    for page in pages:
        _make_offline(page, site_dir, urls)


def _page(context: FileDataContext, identifier: Any) -> Path:
    """Where the local site keeps the page of a suite or of a validation result (it may not exist yet)."""
    url = context.get_docs_sites_urls(resource_identifier=identifier, site_name=SITE_NAME, only_if_exists=False)[0]
    return Path(unquote(urlparse(url["site_url"]).path)).resolve()


def _build_docs_for(context_dir: Path, results: Sequence[ExpectationSuiteValidationResult]) -> dict[str, Path]:
    """Render only this run's result pages, the suites' pages and the index; return suite name -> result page."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = _context(context_dir)
    suites = [ExpectationSuiteIdentifier(name=result.suite_name) for result in results]
    # GX stamps the batch id into every expectation's kwargs; results and their pages are keyed by it.
    identifiers = [
        ValidationResultIdentifier(suite, result.meta["run_id"], result.results[0].expectation_config.kwargs["batch_id"])
        for suite, result in zip(suites, results, strict=True)
    ]
    # Suite pages change only with the suite files; `build_docs` re-renders them, here only missing ones are.
    missing = [suite for suite in suites if not _page(context, suite).is_file()]
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[*identifiers, *missing])
    pages = {identifier.expectation_suite_identifier.name: _page(context, identifier) for identifier in identifiers}
    _offline_site(context_dir, [_site_dir(context_dir) / "index.html", *pages.values(), *map(functools.partial(_page, context), missing)])
    return pages


def build_docs(context_dir: Path | str = DEFAULT_CONTEXT_DIR) -> Path:
    """Rebuild the whole Data Docs site (all stored results, all suites), offline-ready; return its index page."""
    context_dir = Path(context_dir).resolve()
    _context(context_dir).build_data_docs(site_names=[SITE_NAME])
    site_dir = _site_dir(context_dir)
    _offline_site(context_dir, site_dir.rglob("*.html"))
    return site_dir / "index.html"


def docs_server(path: Path, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for the Data Docs folder (or the folder of the given page), bound but not yet serving."""
    root = path if path.is_dir() else path.parent
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    return ThreadingHTTPServer((host, port), handler)


def serve_docs(path: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the Data Docs on localhost until interrupted (`newsflow docs --serve`)."""
    with docs_server(path, host, port) as server:
        server.serve_forever()
