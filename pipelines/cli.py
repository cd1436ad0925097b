"""`newsflow`: the same pipeline functions the DAGs call, run in-process from a terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pipelines.config import Settings

app = typer.Typer(help="newsflow: ingest news into DuckDB and inspect what landed.", no_args_is_help=True)
console = Console()

EXAMPLE_QUERY = (
    "SELECT title, dateline_place, language, word_count, left(body_text, 60) AS lead "
    "FROM articles ORDER BY first_seen_at, article_id"
)

SeedsOption = Annotated[Path | None, typer.Option("--seeds", help="Seed folder (default $NEWSFLOW_SEEDS_DIR or seeds/).")]
DbOption = Annotated[Path | None, typer.Option("--db", help="DuckDB file (default $NEWSFLOW_DB or data/news.duckdb).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]


def _fail(message: str) -> None:
    """One line on stderr and a non-zero exit: the job itself failed, not one of its inputs."""
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    print(f"newsflow: error: {first_line}", file=sys.stderr)
    raise typer.Exit(code=1)


def _print(data: dict[str, Any], title: str, as_json: bool, headers: tuple[str, str] = ("", "")) -> None:
    if as_json:
        print(json.dumps(data, default=str))
        return
    table = Table(title=title)
    table.add_column(headers[0])
    table.add_column(headers[1], justify="right")
    for key, value in data.items():
        table.add_row(key, str(value))
    console.print(table)


@app.command()
def ingest(seeds: SeedsOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Run one micro-batch over the seed folder: read, normalize, load. Rejected inputs do not fail the run."""
    from pipelines.pipeline import PipelineError, ingest_folder

    settings = Settings.from_env(seeds_dir=seeds, db_path=db)
    try:
        counts = ingest_folder(settings)
    except PipelineError as exc:
        _fail(str(exc))
    except Exception as exc:  # the CLI's contract: any job failure is one line and exit 1
        _fail(f"{type(exc).__name__}: {exc}")
    _print({**counts.as_dict(), "db": str(settings.db_path)}, "ingest", as_json)


@app.command()
def stats(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Rows per table."""
    from pipelines.pipeline import table_counts

    settings = Settings.from_env(db_path=db)
    try:
        counts = table_counts(settings)
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    _print(counts, "newsflow tables", as_json, headers=("table", "rows"))
    if not as_json:
        console.print(f"DuckDB file: {settings.db_path.resolve()}")
        console.print("Query it with the DuckDB CLI, or with `newsflow query`, for example:", markup=False)
        console.print(f"  duckdb -readonly {settings.db_path} \"{EXAMPLE_QUERY}\"", markup=False, soft_wrap=True)
        console.print(f"  newsflow query \"{EXAMPLE_QUERY}\"", markup=False, soft_wrap=True)


@app.command()
def query(sql: Annotated[str, typer.Argument(help="A SQL query.")], db: DbOption = None, as_json: JsonOption = False) -> None:
    """Run a read-only SQL query against the DuckDB file (no DuckDB CLI needed)."""
    import duckdb

    settings = Settings.from_env(db_path=db)
    try:
        con = duckdb.connect(str(settings.db_path), read_only=True)
        try:
            cursor = con.execute(sql)
            columns = [column[0] for column in cursor.description or []]
            rows = cursor.fetchall()
        finally:
            con.close()
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    if as_json:
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str))
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("NULL" if value is None else str(value) for value in row))
    console.print(table)


if __name__ == "__main__":
    app()
