"""Data-quality gate: every staged batch is validated with the GX suites in schemas/expectations/ before it loads.

GX (Great Expectations Core 1.x) runs from the file context in gx/ on pandas frames, since it has no
DuckDB datasource. The gate returns a verdict: the rejected rows, each naming the expectations it
failed (`verdict.apply_verdict` moves them to quarantine at load time), and the batch-level failures
(a source far below its usual volume, too many rejects) that make the caller raise
`BatchValidationError` and keep the batch staged. Data Docs are rebuilt after every validation that
ran the suites; a batch with nothing to check skips GX altogether.
"""

from __future__ import annotations

import functools
import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.quality.context import open_context
from pipelines.quality.derived import with_derived_columns
from pipelines.quality.docs import INDEX_PAGE, build_result_docs, site_dir
from pipelines.quality.verdict import (
    BATCH_SUITE,
    EXPECTED_RANGE,
    QUARANTINE_COLUMNS,
    VALIDATE_STAGE,
    Refusals,
    kept_frame,
)
from pipelines.tables import (
    ARTICLE_CHILDREN,
    VALIDATED_RECORDS,
    VALIDATED_TABLES,
    record_id,
)

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.validation_definition import ValidationDefinition

DATASOURCE_NAME = "newsflow_staged"
BATCH_DEFINITION_NAME = "whole_frame"
TIMESTAMP_COLUMNS = ("published_at", "fetched_at")
# COMPLETE lists every failing row; the pandas index (a RangeIndex here) says which row it is.
RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}
DETAIL_TEXT_LIMIT = 300


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
    """The verdict on a batch: the rows to quarantine and whether the batch may load at all."""

    run_id: str
    rejected_rows: tuple[dict[str, object], ...]  # QUARANTINE_COLUMNS, JSON-ready: what the validation file keeps
    batch_failures: tuple[str, ...]
    counts: dict[str, TableCounts]
    articles_per_source: dict[str, int]  # staged, for the next batch's BatchHistory
    docs_path: Path  # the Data Docs index
    pages: dict[str, Path]  # suite name -> this run's result page

    @property
    def rejected(self) -> pd.DataFrame:
        """The rejected rows as a frame, for reading them by column."""
        return pd.DataFrame(list(self.rejected_rows), columns=list(QUARANTINE_COLUMNS))

    @property
    def success(self) -> bool:
        """True when every expectation passed: nothing quarantined and no batch-level failure."""
        return not self.batch_failures and not self.rejected_rows

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


def staged_frames(rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, pd.DataFrame]:
    """A run's staged rows of each validated table as the frame its suite validates, one column per record field."""
    frames = {}
    for table, record in VALIDATED_RECORDS.items():
        frame = pd.DataFrame(list(rows.get(table, ())), columns=[column.name for column in fields(record)])
        for column in TIMESTAMP_COLUMNS:
            if column in frame:
                frame[column] = pd.to_datetime(frame[column], utc=True)
        frames[table] = frame
    return frames


# --- running suites -------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _validation_definition(context_dir: Path, suite_name: str) -> ValidationDefinition:
    """The suite bound to its in-memory frame asset; created and saved under gx/ on first use only."""
    context = open_context(context_dir)
    import great_expectations as gx
    from great_expectations.datasource.fluent import PandasDatasource
    from great_expectations.exceptions import DataContextError

    try:
        return context.validation_definitions.get(suite_name)
    except DataContextError:
        pass
    try:
        datasource = context.data_sources.get(DATASOURCE_NAME)
    except KeyError:
        datasource = context.data_sources.add_pandas(DATASOURCE_NAME)
    if not isinstance(datasource, PandasDatasource):
        raise TypeError(f"{context_dir}: data source {DATASOURCE_NAME!r} is not a pandas data source")
    asset = next((a for a in datasource.assets if a.name == suite_name), None) or datasource.add_dataframe_asset(
        suite_name
    )
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
        assert config is not None, "GX returns each result with its expectation"
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


# --- row level ------------------------------------------------------------------------------


def plain(value: object) -> object:
    """A JSON-ready value: numpy scalars and arrays unwrapped, missing (None, NaN, NaT) as None, times as ISO text."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.tolist() if hasattr(value, "tolist") else value


def _cut(value: object) -> object:
    """Long texts shortened, so a quarantine detail shows the value without repeating a whole article."""
    if isinstance(value, str) and len(value) > DETAIL_TEXT_LIMIT:
        return f"{value[:DETAIL_TEXT_LIMIT]}… ({len(value)} chars)"
    return value


def _detail(row: Mapping[str, Any], failed: Iterable[_Failure]) -> str:
    """The failed expectations and the row's own values, as JSON for the quarantine table."""
    values = {column: _cut(plain(value)) for column, value in row.items()}
    checks = [{"expectation": failure.expectation, "kwargs": failure.kwargs} for failure in failed]
    return json.dumps({"failed": checks, "values": values}, default=str, ensure_ascii=False)


def _rejected_rows(
    table: str, frame: pd.DataFrame, reasons: Mapping[int, Sequence[_Failure]], raw_ids: Mapping[str, str]
) -> list[dict[str, object]]:
    rows = []
    refused = sorted(reasons)  # only refused rows are turned into dicts: most batches have few or none
    for index, row in zip(refused, frame.iloc[refused].to_dict("records"), strict=True):
        failed = reasons[index]
        article_id = plain(row.get("article_id"))
        rows.append(
            {
                "table_name": table,
                "record_id": record_id(table, row),
                "raw_id": plain(row["raw_id"])
                if table == "articles"
                else raw_ids.get(article_id)
                if isinstance(article_id, str)
                else None,
                "article_id": article_id,
                "stage": VALIDATE_STAGE,
                "reason": f"{table}: " + "; ".join(dict.fromkeys(failure.reason for failure in failed)),
                "detail": _detail(row, failed),
            }
        )
    return rows


def _orphans(table: str, frame: pd.DataFrame, refused_articles: Mapping[str, str]) -> dict[int, list[_Failure]]:
    """Rows of an article the articles suite quarantined: they go with it, whatever their own checks say."""
    if table not in ARTICLE_CHILDREN or not refused_articles:
        return {}
    return {
        index: [_Failure(f"its article was quarantined ({refused_articles[article_id]})", None, "parent_article", {})]
        for index, article_id in enumerate(frame["article_id"])
        if article_id in refused_articles
    }


@dataclass(frozen=True, slots=True)
class _TableResult:
    rejected: list[dict[str, object]]
    table_failures: list[str]
    result: ExpectationSuiteValidationResult


def _validate_table(
    context_dir: Path,
    table: str,
    staged: pd.DataFrame,
    loaded: Mapping[str, pd.DataFrame],
    refused_articles: Mapping[str, str],
    raw_ids: Mapping[str, str],
    run: Any,
) -> _TableResult:
    """Validate one staged table (children of quarantined articles are taken out first) and name its rejected rows."""
    frame = staged.reset_index(drop=True)
    reasons = _orphans(table, frame, refused_articles)
    checked = frame.drop(index=list(reasons))
    result = _run_suite(context_dir, table, with_derived_columns(table, checked, loaded), run)
    table_failures = []
    for failure in _failures(result):
        if failure.rows is None:
            table_failures.append(f"{table}: {failure.reason}")
        for index in failure.rows or ():
            reasons.setdefault(index, []).append(failure)
    return _TableResult(_rejected_rows(table, frame, reasons, raw_ids), table_failures, result)


# --- batch level ----------------------------------------------------------------------------


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
    return pd.DataFrame(
        rows, columns=["source_id", "article_count", "rejected_count", "rejected_share", "expected_min", "expected_max"]
    )


def _describe_source(row: pd.Series) -> str:
    expected = (
        "no history yet"
        if pd.isna(row["expected_min"])
        else f"expected {row['expected_min']:.0f}–{row['expected_max']:.0f}"
    )
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


def _gx_run(context_dir: Path, run_id: str) -> Any:
    """GX's run key: results and their pages are filed under the run's name and start time."""
    open_context(context_dir)  # GX is imported there, quietly
    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))


def _nothing_to_check(frames: Mapping[str, pd.DataFrame], history: BatchHistory | None) -> bool:
    """No row to refuse and no source to judge (a poll that brought nothing new): every suite could only pass."""
    return all(len(frame) == 0 for frame in frames.values()) and not (history and history.articles_per_source)


def _empty_outcome(frames: Mapping[str, pd.DataFrame], context_dir: Path, run_id: str) -> ValidationOutcome:
    """The verdict on a batch with nothing to check, reached without importing GX (seconds of CPU) or writing docs."""
    return ValidationOutcome(
        run_id=run_id,
        rejected_rows=(),
        batch_failures=(),
        counts={table: TableCounts(0, 0, 0) for table in VALIDATED_TABLES if table in frames},
        articles_per_source={},
        docs_path=site_dir(context_dir) / INDEX_PAGE,
        pages={},
    )


def validate_batch(
    frames: Mapping[str, pd.DataFrame],
    context_dir: Path | str,
    run_id: str,
    *,
    history: BatchHistory | None = None,
) -> ValidationOutcome:
    """Validate a staged batch before it loads; the CLI and the DAG both call this, then the load applies the verdict.

    Tables are validated parents first, each against the rows of earlier tables that will load. A batch
    with no rows and no source history passes without GX and has no result pages.
    """
    unknown = set(frames) - set(VALIDATED_TABLES)
    if unknown:
        raise ValueError(
            f"no expectation suite for table(s) {sorted(unknown)}; suites exist for {list(VALIDATED_TABLES)}"
        )
    context_dir = Path(context_dir).resolve()
    if _nothing_to_check(frames, history):
        return _empty_outcome(frames, context_dir, run_id)
    run = _gx_run(context_dir, run_id)
    articles = frames.get("articles", pd.DataFrame(columns=["article_id", "raw_id", "source_id"]))
    raw_ids = dict(zip(articles["article_id"], articles["raw_id"], strict=True))
    loaded: dict[str, pd.DataFrame] = {}
    rejected: list[dict[str, object]] = []
    batch_failures: list[str] = []
    results = []
    refusals = Refusals.of(())
    for table in (name for name in VALIDATED_TABLES if name in frames):
        outcome = _validate_table(context_dir, table, frames[table], loaded, refusals.articles, raw_ids, run)
        rejected.extend(outcome.rejected)
        refusals = Refusals.of(rejected)
        loaded[table] = kept_frame(table, frames[table], refusals)
        batch_failures.extend(outcome.table_failures)
        results.append(outcome.result)
    sources = _batch_frame(articles, refusals.articles, history, _suite_meta(context_dir, BATCH_SUITE)[EXPECTED_RANGE])
    batch_result = _run_suite(context_dir, BATCH_SUITE, sources, run)
    batch_failures.extend(_batch_failures(sources, _failures(batch_result)))
    results.append(batch_result)
    return ValidationOutcome(
        run_id=run_id,
        rejected_rows=tuple(rejected),
        batch_failures=tuple(batch_failures),
        counts={
            table: TableCounts(
                len(frames[table]), len(loaded[table]), sum(row["table_name"] == table for row in rejected)
            )
            for table in loaded
        },
        articles_per_source={str(k): int(v) for k, v in articles["source_id"].value_counts().items()},
        docs_path=site_dir(context_dir) / INDEX_PAGE,
        pages=build_result_docs(context_dir, results),
    )
