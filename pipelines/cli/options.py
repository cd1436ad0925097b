"""What the `newsflow` commands share: their options, how they fail, and how they print a table."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines.tabular import Format, render

SeedsOption = Annotated[
    Path | None, typer.Option("--seeds", help="Seed folder (default $NEWSFLOW_SEEDS_DIR or seeds/).")
]
DbOption = Annotated[Path | None, typer.Option("--db", help="DuckDB file (default $NEWSFLOW_DB or data/news.duckdb).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        case_sensitive=False,
        help="table (fits the terminal), line (one column: value a line), csv, json or markdown; --json is -f json.",
    ),
]


def fail(message: str) -> None:
    """One line on stderr and a non-zero exit: the job itself failed, not one of its inputs."""
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"newsflow: error: {first_line}", file=sys.stderr)
    raise typer.Exit(code=1)


def misuse(message: str) -> None:
    """Flags that contradict each other or would be ignored: one line and exit 2, as for an unknown option."""
    print(f"newsflow: error: {message}", file=sys.stderr)
    raise typer.Exit(code=2)


def reason(exc: Exception) -> str:
    """Our own errors already read as a reason; anything else is named by its type and where it happened (the input)."""
    from pipelines.failures import describe
    from pipelines.pipeline import PipelineError
    from pipelines.sources.feed_config import FeedConfigError

    return str(exc) if isinstance(exc, PipelineError | FeedConfigError) else describe(exc)


def print_summary(data: dict[str, Any], as_json: bool) -> None:
    """A command's summary: one JSON object, or a table of what and how many (values whole: a path is copied)."""
    if as_json:
        print(json.dumps(data, default=str))
        return
    write_table(["", "value"], list(data.items()), Format.table, whole={"value"})


FeedsOption = Annotated[
    Path | None, typer.Option("--feeds", help="feeds.yaml (default $NEWSFLOW_FEEDS or feeds.yaml).")
]


ModelOption = Annotated[str | None, typer.Option("--model", help="spaCy pipeline (default $NEWSFLOW_SPACY_MODEL).")]


def write_table(columns: list[str], rows: list[tuple[object, ...]], fmt: Format, whole: Collection[str] = ()) -> None:
    """The table fits the terminal: $COLUMNS, else the terminal's width, else 80 when stdout is not a terminal."""
    sys.stdout.write(render(columns, rows, fmt, shutil.get_terminal_size((80, 24)).columns, whole))
