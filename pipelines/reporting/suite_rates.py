"""The suites on the data-quality page: each expectation in its own words, and how it fared in recent runs.

Read from the suite files (schemas/expectations/*.json) and the validation results GX stored, as plain JSON:
no GX import, so the page stays cheap to build.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.quality.docs import stored_results
from pipelines.tables import VALIDATED_TABLES

RUNS_SHOWN = 20  # the runs the pass rates cover (and the page lists)


@dataclass(frozen=True, slots=True)
class ExpectationRate:
    """One expectation in the words of its suite, and how it fared in the runs validated lately."""

    suite: str
    expectation_id: str
    description: str
    check: str  # its type and columns, for the reader who knows GX
    runs: int  # recent runs that evaluated it
    passed: int
    rows: int  # rows it checked over those runs
    failed_rows: int

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.runs if self.runs else None


@dataclass(frozen=True, slots=True)
class SuiteReport:
    name: str
    notes: str | None
    expectations: list[ExpectationRate]


@dataclass(frozen=True, slots=True)
class ValidatedRun:
    """A run as the stored validation results tell it: run id, when, success, and each suite's result (file, JSON)."""

    run_id: str
    validated_at: str
    failed_suites: tuple[str, ...]
    results: dict[str, Path]
    documents: dict[str, dict[str, Any]]

    @property
    def success(self) -> bool:
        return not self.failed_suites


def _suite_order(name: str) -> tuple[int, str]:
    return (VALIDATED_TABLES.index(name) if name in VALIDATED_TABLES else len(VALIDATED_TABLES), name)


def load_suites(suites_dir: Path) -> dict[str, dict[str, Any]]:
    """The suite files (schemas/expectations/*.json), tables in validation order, then the batch suite."""
    paths = sorted(suites_dir.glob("*.json"), key=lambda path: _suite_order(path.stem))
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in paths}


def validated_runs(context_dir: Path, limit: int = RUNS_SHOWN) -> list[ValidatedRun]:
    """The newest `limit` runs with stored results (<suite>/<run id>/<run time>/<batch>.json), newest first."""
    grouped: dict[str, dict[str, Path]] = {}
    for path in stored_results(context_dir):  # newest first
        run_id, suite = path.parent.parent.name, path.parent.parent.parent.name
        if run_id not in grouped and len(grouped) == limit:
            continue
        grouped.setdefault(run_id, {}).setdefault(suite, path)
    runs = []
    for run_id, results in grouped.items():
        documents = {suite: _read_result(path) for suite, path in results.items()}
        failed = tuple(
            sorted(
                (suite for suite, document in documents.items() if not document.get("success", False)), key=_suite_order
            )
        )
        runs.append(
            ValidatedRun(run_id, max(path.parent.name for path in results.values()), failed, results, documents)
        )
    return sorted(runs, key=lambda run: (run.validated_at, run.run_id), reverse=True)


def _read_result(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # archived or rewritten by a concurrent validation meanwhile
        return {}


def _check(expectation: Mapping[str, Any]) -> str:
    kwargs = expectation.get("kwargs", {})
    columns = ", ".join(str(kwargs[key]) for key in ("column", "column_A", "column_B") if key in kwargs)
    return f"{expectation['type']}({columns})"


def suite_reports(suites: Mapping[str, Mapping[str, Any]], runs: Sequence[ValidatedRun]) -> list[SuiteReport]:
    """Each suite's expectations with their pass rate over `runs` (matched by expectation id, so edits keep history)."""
    tallies: dict[str, list[int]] = {}  # id -> [runs, passed, rows, failed rows]
    for run in runs:
        for suite, document in run.documents.items():
            for item in document.get("results", []) if suite in suites else []:
                tally = tallies.setdefault(item["expectation_config"].get("id", ""), [0, 0, 0, 0])
                result = item.get("result") or {}
                tally[0] += 1
                tally[1] += bool(item.get("success"))
                tally[2] += int(result.get("element_count") or 0)
                tally[3] += int(result.get("unexpected_count") or 0)
    reports = []
    for name, suite_document in suites.items():
        rates = [
            ExpectationRate(
                name,
                e.get("id", ""),
                e.get("description") or _check(e),
                _check(e),
                *tallies.get(e.get("id", ""), [0, 0, 0, 0]),
            )
            for e in suite_document.get("expectations", [])
        ]
        reports.append(SuiteReport(name, suite_document.get("notes"), rates))
    return reports


@dataclass(frozen=True, slots=True)
class SuiteBound:
    """A bound one expectation sets on a column, in its own words, and the row count it applies from (if any)."""

    value: float
    words: str
    applies_from: float | None  # the expectation's row condition `<column> >= n`, when it has one


def _applies_from(kwargs: Mapping[str, Any]) -> float | None:
    condition = kwargs.get("row_condition")
    if not isinstance(condition, Mapping) or condition.get("operator") != ">=":
        return None
    parameter = condition.get("parameter")
    return float(parameter) if isinstance(parameter, int | float) else None


def suite_threshold(suites: Mapping[str, Mapping[str, Any]], suite: str, column: str, bound: str) -> SuiteBound | None:
    """A bound (`min_value`/`max_value`) one suite sets on a column, with the expectation's own words; None if unset."""
    for expectation in suites.get(suite, {}).get("expectations", []):
        kwargs = expectation.get("kwargs", {})
        value = kwargs.get(bound)
        if kwargs.get("column") == column and isinstance(value, int | float) and math.isfinite(value):
            return SuiteBound(
                float(value), expectation.get("description") or _check(expectation), _applies_from(kwargs)
            )
    return None
