"""A batch staged on disk between the pure stages and the single DuckDB writer, and the verdict written beside it.

Tasks pass the stage's path, not data. A stage is written by one task and read by the load; it is
deleted only after its load committed, so a failed load is retried from the stage, not refetched.
This module only writes and reads stages and validation files; what a verdict does to the rows is
`quality.verdict`'s job.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.tables import STAGED_TABLES

MANIFEST = "manifest.json"
VALIDATION = "validation.json"


@dataclass(frozen=True, slots=True)
class Manifest:
    run_id: str
    trigger: str
    started_at: datetime
    source_uri: str
    counts: dict[str, int] = field(default_factory=dict)  # stage-level counts, e.g. feed items already seen
    # The sources whose batch volume the gate checks (a poll round's feeds with new items); None: the
    # stage's one source (`source_uri`) is checked unless its counts say `volume_checked: 0`.
    volume_sources: list[str] | None = None

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "started_at": self.started_at.isoformat()}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(**{**data, "started_at": datetime.fromisoformat(data["started_at"])})


@dataclass(frozen=True, slots=True)
class Stage:
    """A staged batch: the manifest and one Arrow table per staged table (absent when it has no rows)."""

    path: Path
    manifest: Manifest
    tables: dict[str, pa.Table]

    def rows(self, table: str) -> list[dict[str, Any]]:
        staged = self.tables.get(table)
        return staged.to_pylist() if staged is not None else []


def stage_path(staging_dir: Path, run_id: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    return staging_dir / safe


def write_stage(path: Path, manifest: Manifest, tables: Mapping[str, Sequence[Any]]) -> Path:
    """Write to a temporary folder and rename it into place, so a crash never leaves half a stage."""
    unknown = set(tables) - set(STAGED_TABLES)
    if unknown:
        raise ValueError(f"not a staged table: {sorted(unknown)}")
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, rows in tables.items():
        if rows:
            pq.write_table(pa.Table.from_pylist([_as_dict(row) for row in rows]), tmp / f"{name}.parquet")
    (tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def read_stage(path: Path) -> Stage:
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        raise FileNotFoundError(f"no staged batch at {path} (missing {MANIFEST})")
    manifest = Manifest.from_json(manifest_file.read_text(encoding="utf-8"))
    tables = {
        name: pq.read_table(path / f"{name}.parquet") for name in STAGED_TABLES if (path / f"{name}.parquet").is_file()
    }
    return Stage(path, manifest, tables)


def merge_rows(stages: Sequence[Stage]) -> dict[str, list[dict[str, Any]]]:
    """The rows of several stages of one run (one per mapped task), table by table, in stage order.

    Each article resolves its entities alone, so one entity_id comes from many articles: one row per
    entity_id stays for validation, the longest name first (then a stable order, a missing value
    first so that a broken row is the one checked), and one row per alias.
    """
    rows = {table: [row for stage in stages for row in stage.rows(table)] for table in STAGED_TABLES}
    best: dict[str, dict[str, Any]] = {}
    for row in sorted(
        rows["entities"], key=lambda r: (r["entity_id"], -len(r["name"] or ""), r["name"] or "", r["type"] or "")
    ):
        best.setdefault(row["entity_id"], row)
    aliases = {(row["entity_id"], row["alias"]): row for row in rows["entity_aliases"]}
    return {**rows, "entities": list(best.values()), "entity_aliases": list(aliases.values())}


@dataclass(frozen=True, slots=True)
class Validation:
    """The verdict of `validate_stages` on a run, written beside its stages for the load to apply."""

    success: bool
    validated: int
    rejected: list[dict[str, Any]]  # quality.verdict.QUARANTINE_COLUMNS; the load applies them with apply_verdict
    articles_per_source: dict[str, int]
    docs_path: str
    pages: dict[str, str]
    batch_failures: list[str]
    seconds: float  # the validation's wall time, GX import included when `cold_start`
    cold_start: bool  # GX had to be imported in this process (not preloaded by the worker)

    @classmethod
    def passed(cls, validated: int = 0) -> Validation:
        """A verdict that refused nothing: what a load of rows made by hand (a test, a bench) is handed."""
        return cls(True, validated, [], {}, "", {}, [], 0.0, False)


def write_validation(path: Path, validation: Validation) -> None:
    tmp = path / f".{VALIDATION}.tmp"
    tmp.write_text(json.dumps(asdict(validation), indent=2, default=str), encoding="utf-8")
    tmp.rename(path / VALIDATION)


def read_validation(path: Path) -> Validation | None:
    file = path / VALIDATION
    return Validation(**json.loads(file.read_text(encoding="utf-8"))) if file.is_file() else None


def drop_stage(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per record type: `fields` is too slow to call for every row


def _field_names(record_type: type) -> tuple[str, ...]:
    if record_type not in _FIELD_NAMES:
        _FIELD_NAMES[record_type] = tuple(column.name for column in fields(record_type))
    return _FIELD_NAMES[record_type]


def _as_dict(row: object) -> dict[str, Any]:
    """A record's columns as they are: its fields hold plain values, so `asdict`'s deep copy would only cost time."""
    return row if isinstance(row, dict) else {name: getattr(row, name) for name in _field_names(type(row))}
