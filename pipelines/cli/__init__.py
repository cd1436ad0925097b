"""`newsflow`: the same pipeline functions the DAGs call, run in-process from a terminal."""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.cli.evaluate import eval_app
from pipelines.cli.options import (
    DbOption,
    FeedsOption,
    FormatOption,
    JsonOption,
    SeedsOption,
    fail,
    misuse,
    print_summary,
    reason,
    write_table,
)
from pipelines.cli.train import train_app
from pipelines.config import Settings
from pipelines.tabular import Format

app = typer.Typer(help="newsflow: ingest news into DuckDB and inspect what landed.", no_args_is_help=True)
console = Console()

EXAMPLE_QUERY = (
    "SELECT title, dateline_place, language, word_count, left(body_text, 60) AS lead "
    "FROM articles ORDER BY first_seen_at, article_id"
)


@app.command()
def ingest(
    seeds: SeedsOption = None,
    feeds: Annotated[
        Path | None, typer.Option("--feeds", help="Poll the due feeds of this feeds.yaml instead of the seed folder.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="With --feeds: poll every enabled feed, due or not.")] = False,
    db: DbOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help=(
                "Processes that extract and parse (default $NEWSFLOW_WORKERS or the CPUs);"
                " the output never depends on it."
            ),
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run one micro-batch: the seed folder, or the due feeds with --feeds. Rejected inputs do not fail the run."""
    from pipelines.pipeline import ingest_feeds, ingest_folder

    if seeds is not None and feeds is not None:
        misuse("--seeds and --feeds are two kinds of batch: give one (run the command twice for both)")
    if force and feeds is None:
        misuse("--force goes only with --feeds (it polls feeds that are not due yet)")

    settings = Settings.from_env(seeds_dir=seeds, db_path=db, feeds_file=feeds, workers=workers)
    try:
        counts = ingest_feeds(settings, force=force) if feeds else ingest_folder(settings)
    except Exception as exc:  # the CLI's contract: any job failure is one line and exit 1
        fail(reason(exc))
    if counts is None:
        print_summary({"feeds_due": 0, "db": str(settings.db_path)}, as_json)
        return
    data = counts.as_dict()
    print_summary(
        {**{k: v for k, v in data.items() if k != "stage_counts"}, **data["stage_counts"], "db": str(settings.db_path)},
        as_json,
    )


feeds_app = typer.Typer(
    help="The feeds of feeds.yaml with their polling state; `feeds add URL` finds and adds one.",
    invoke_without_command=True,
)
app.add_typer(feeds_app, name="feeds")


@feeds_app.callback()
def list_feeds(
    ctx: typer.Context,
    feeds: FeedsOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """The configured feeds with their polling state: last poll, status, failures, learned interval, next due, ETag."""
    if ctx.invoked_subcommand is not None:
        return
    from pipelines.pipeline import feed_states
    from pipelines.sources.cadence import poll_interval
    from pipelines.sources.feed_config import load_feeds

    settings = Settings.from_env(feeds_file=feeds, db_path=db)
    try:
        configured = load_feeds(settings.feeds_file, settings.poll_minutes)
        states = feed_states(settings)
    except Exception as exc:
        fail(reason(exc))
    rows = []
    for feed in configured:
        state = states.get(feed.source_id)
        learned = state.learned_minutes if state else None
        rows.append(
            {
                "name": feed.name,
                "url": feed.url,
                "enabled": feed.enabled,
                "poll_minutes": feed.poll_minutes,
                "learned_minutes": None if learned is None else round(learned, 1),
                "interval_minutes": int(
                    poll_interval(learned, feed.poll_minutes, feed.interval_bounds).total_seconds() // 60
                ),
                "last_polled_at": state.last_polled_at if state else None,
                "last_status": state.last_status if state else None,
                "last_outcome": state.last_outcome if state else None,
                "etag": bool(state and state.etag),
                "failures": state.consecutive_failures if state else 0,
                "next_poll_at": state.next_poll_at if state else "now",
                "last_error": state.last_error if state else None,
            }
        )
    if as_json or fmt in (Format.json, Format.csv):  # for programs: every field as stored
        write_table(
            list(rows[0]) if rows else [], [tuple(row.values()) for row in rows], Format.json if as_json else fmt
        )
        return
    if not rows and fmt is Format.table:
        console.print(
            f"No feeds in {settings.feeds_file}: add a site with `newsflow feeds add URL`.",
            markup=False,
            soft_wrap=True,
        )
        return
    # For people, most telling first (the table leaves out from the right what does not fit): short UTC times.
    columns = [
        "name",
        "status",
        "outcome",
        "last poll",
        "next due",
        "failures",
        "last error",
        "polled every",
        "publishes every",
        "ETag",
        "enabled",
        "url",
    ]
    write_table(
        columns,
        [
            (
                row["name"],
                row["last_status"],
                row["last_outcome"],
                _short_time(row["last_polled_at"]) or "never",
                _short_time(row["next_poll_at"]),
                row["failures"],
                row["last_error"] or "",
                f"{row['interval_minutes']} min",
                "" if row["learned_minutes"] is None else f"{row['learned_minutes']:.0f} min",
                "yes" if row["etag"] else "no",
                "yes" if row["enabled"] else "no",
                row["url"],
            )
            for row in rows
        ],
        fmt,
        whole={"last poll", "next due"},
    )


def _short_time(moment: object) -> str:
    """A poll time in 11 cells, "12-06 21:34" (UTC): the day tells today from last week, seconds tell nothing."""
    from datetime import UTC, datetime

    if isinstance(moment, datetime):
        return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%m-%d %H:%M")
    return "" if moment is None else str(moment)


@feeds_app.command("add")
def add_feed(
    url: Annotated[str, typer.Argument(help="A site's home page, any page of it, or a feed.")],
    feeds: FeedsOption = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The entry's name (default: the feed's title, else its host).")
    ] = None,
    pick: Annotated[
        int | None,
        typer.Option("--pick", min=1, help="Add the Nth candidate listed (default: the first feed that reads)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show what was found; feeds.yaml is not changed.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find a site's feeds (the page's feed links, common feed paths, robots.txt sitemaps), show them, and append
    one to feeds.yaml (validated first; its comments kept). Every request goes through the fetcher's guards."""
    from dataclasses import asdict

    from pipelines.pipeline import discover_feeds
    from pipelines.sources.discovery import choose, entry_name
    from pipelines.sources.feed_config import append_feed, load_feeds
    from pipelines.sources.kinds import FEED

    settings = Settings.from_env(feeds_file=feeds, db_path=db)
    try:
        configured = load_feeds(settings.feeds_file, settings.poll_minutes) if settings.feeds_file.exists() else []
        candidates = discover_feeds(settings, url)
    except Exception as exc:
        fail(reason(exc))
    chosen = choose(candidates, pick)
    listed = {feed.url: feed.name for feed in configured}
    entry: dict[str, str] = {}
    if chosen is not None and chosen.problem is None and chosen.url not in listed:
        entry = {
            "url": chosen.url,
            "name": name or entry_name(chosen, [feed.name for feed in configured]),
            **({} if chosen.kind == FEED else {"kind": chosen.kind}),
        }
        if not dry_run:
            try:
                append_feed(settings.feeds_file, entry, settings.poll_minutes)
            except Exception as exc:
                fail(reason(exc))
    if as_json:
        print(
            json.dumps(
                {
                    "candidates": [asdict(c) for c in candidates],
                    "entry": entry or None,
                    "added": bool(entry) and not dry_run,
                    "already_listed": listed.get(chosen.url) if chosen else None,
                }
            )
        )
    else:  # the URL is what the user chooses by: never cut
        console.print(f"found for {url}:", markup=False, soft_wrap=True)
        write_table(
            ["#", "url", "kind", "items", "title", "problem", "found in"],
            [
                (
                    number,
                    candidate.url,
                    candidate.kind,
                    candidate.items,
                    candidate.title or "",
                    candidate.problem or "",
                    candidate.found,
                )
                for number, candidate in enumerate(candidates, 1)
            ],
            Format.table,
            whole={"url"},
        )
    if chosen is None:
        reasons = "; ".join(dict.fromkeys(candidate.problem for candidate in candidates if candidate.problem))
        sitemaps = [
            str(n) for n, candidate in enumerate(candidates, 1) if candidate.kind != FEED and not candidate.problem
        ]
        fail(
            f"candidate {pick} is not listed"
            if pick
            else f"no readable feed found for {url}"
            + (f": {reasons}" if reasons else "")
            + (f" (add a sitemap with --pick {' or '.join(sitemaps)})" if sitemaps else "")
        )
    elif chosen.problem is not None:
        fail(f"{chosen.url} cannot be polled: {chosen.problem}")
    elif not as_json:
        done = (
            f"{chosen.url} is already in {settings.feeds_file} as {listed[chosen.url]!r}"
            if chosen.url in listed
            else f"{'would add' if dry_run else 'added'} {entry['name']!r} ({chosen.url}) to {settings.feeds_file}"
        )
        console.print(done, markup=False, soft_wrap=True)


@app.command()
def stats(db: DbOption = None, as_json: JsonOption = False, fmt: FormatOption = Format.table) -> None:
    """Rows per table (with --format json, one object: table name to rows)."""
    from pipelines.pipeline import table_counts

    settings = Settings.from_env(db_path=db)
    try:
        counts = table_counts(settings)
    except Exception as exc:
        fail(reason(exc))
    if as_json or fmt is Format.json:
        print(json.dumps(counts))
        return
    write_table(["table", "rows"], list(counts.items()), fmt)
    if fmt is Format.table:
        console.print(f"DuckDB file: {settings.db_path.resolve()}")
        console.print("Query it with the DuckDB CLI, or with `newsflow query`, for example:", markup=False)
        database = shlex.quote(str(settings.db_path))
        for program, arguments in (("duckdb", f"-readonly {database}"), ("newsflow", f"query --db {database}")):
            if (command := runnable(program)) is not None:
                console.print(f'  {command} {arguments} "{EXAMPLE_QUERY}"', markup=False, soft_wrap=True)


def runnable(program: str) -> str | None:
    """How to run `program` from this directory as printed: its bare name when the PATH finds this environment's
    own, else the path of this environment's own (.venv/bin/duckdb), else whatever the PATH finds, else None."""
    own = Path(sys.executable).parent / program
    found = shutil.which(program)
    if not own.is_file():
        return program if found else None
    if found and Path(found).resolve() == own.resolve():
        return program
    try:
        return shlex.quote(str(own.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(own))


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="A SQL query.")],
    db: DbOption = None,
    as_json: JsonOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Run a read-only SQL query against the DuckDB file (no DuckDB CLI needed)."""
    from pipelines.pipeline import run_query

    try:
        columns, rows = run_query(Settings.from_env(db_path=db), sql)
    except Exception as exc:
        fail(reason(exc))
    write_table(columns, rows, Format.json if as_json else fmt)


@app.command()
def docs(
    serve: Annotated[
        bool, typer.Option("--serve", help="Serve the page and the Data Docs on localhost until Ctrl-C.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Port for --serve.")] = 8765,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-render every stored validation result first.")] = False,
    db: DbOption = None,
) -> None:
    """The data-quality page (runs, refusals, feeds, trends, suites) beside the GX Data Docs:
    print its path, or serve both."""
    from pipelines.quality.docs import INDEX_PAGE, build_docs, site_dir
    from pipelines.reporting.refresh import write_quality_page
    from pipelines.reporting.serve import serve_docs

    settings = Settings.from_env(db_path=db)
    index = site_dir(settings.gx_dir) / INDEX_PAGE
    try:
        if rebuild or not index.is_file():
            index = build_docs(settings.gx_dir)
        page = write_quality_page(settings)
    except Exception as exc:
        fail(reason(exc))
    print(page)
    if serve:
        console.print(f"Serving {page.parent} at http://127.0.0.1:{port}/{page.name} (Ctrl-C to stop)")
        serve_docs(page.parent, "127.0.0.1", port)


app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")


def main() -> None:
    """The `newsflow` console script: the command, then an exit without tearing down what it loaded.

    Freeing spaCy's model, GX and DuckDB's bindings object by object at interpreter shutdown takes a
    second or more after every file is closed and every result printed, so the process leaves at once.
    """
    try:
        app()
        code = 0
    except SystemExit as done:
        code = _exit_code(done.code)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _exit_code(code: object) -> int:
    """What the interpreter would make of `sys.exit(code)`: a message goes to stderr and means failure."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1
