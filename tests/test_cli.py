"""The `newsflow` console script, as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_ROOT
from rich.cells import cell_len

from pipelines.quality.docs import site_dir

NEWSFLOW = [sys.executable, "-m", "pipelines.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEWSFLOW, *args], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


@pytest.mark.slow
def test_ingest_twice_gives_identical_counts(tmp_path: Path, seeds_dir: Path) -> None:
    db = tmp_path / "news.duckdb"
    first = run("ingest", "--seeds", str(seeds_dir), "--db", str(db), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["articles_new"] == 5
    counts = json.loads(run("stats", "--db", str(db), "--json").stdout)
    second = run("ingest", "--seeds", str(seeds_dir), "--db", str(db), "--json")
    assert second.returncode == 0, second.stderr
    # nothing new: no page is extracted or parsed again, a batch of files loaded before is not volume-checked,
    # and the published file is not copied again for a run that changed no article (its run row waits for the next)
    assert json.loads(first.stdout)["published"] is True
    assert json.loads(second.stdout) | {"run_id": None} == json.loads(first.stdout) | {
        "run_id": None,
        "articles_new": 0,
        "unchanged": 5,
        "volume_checked": 0,
        "published": False,
    }
    again = json.loads(run("stats", "--db", str(db), "--json").stdout)
    assert again == counts
    assert counts["articles"] == 5 and counts["raw_documents"] == 5

    table = run("stats", "--db", str(db))
    assert "articles" in table.stdout and str(db) in table.stdout and "SELECT" in table.stdout
    # the commands it suggests run as printed, from where it ran, with no environment activated
    bare_path = os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if Path(d) != Path(sys.executable).parent
    )
    table = run("stats", "--db", str(db), env={"PATH": bare_path})
    suggested = [line.strip() for line in table.stdout.splitlines() if line.startswith("  ") and "SELECT" in line]
    assert len(suggested) == 2 and suggested[0].split()[0].endswith("duckdb") and "newsflow query" in suggested[1]
    for command in suggested:
        ran = subprocess.run(
            ["bash", "-c", command],
            cwd=os.getcwd(),
            env={**os.environ, "PATH": bare_path},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, (command, ran.stderr)
        assert "MOSCOW" in ran.stdout or "Moscow" in ran.stdout, (command, ran.stdout)
    as_csv = run("stats", "--db", str(db), "--format", "csv")
    assert {name: int(rows) for name, rows in list(csv.reader(io.StringIO(as_csv.stdout, newline="")))[1:]} == again
    rows = json.loads(
        run("query", "SELECT count(*) AS n FROM articles WHERE title IS NULL", "--db", str(db), "--json").stdout
    )
    assert rows == [{"n": 2}]

    # every command that reads the database takes --db, whatever NEWSFLOW_DB says
    elsewhere = {"NEWSFLOW_DB": str(tmp_path / "elsewhere.duckdb"), "NEWSFLOW_GX_DIR": str(tmp_path / "gx")}
    shutil.copytree(PROJECT_ROOT / "gx", tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    docs = run("docs", "--db", str(db), env=elsewhere)
    assert docs.returncode == 0, docs.stderr
    page = Path(docs.stdout.strip().splitlines()[-1]).read_text(encoding="utf-8")
    assert "No run has loaded yet" not in page and page.count('<tr class="run" data-run="') == 1
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds: []\n", encoding="utf-8")
    listed = run("feeds", "--feeds", str(feeds), "--db", str(db), env=elsewhere)
    assert listed.returncode == 0 and listed.stdout.startswith(f"No feeds in {feeds}: add a site with"), listed.stdout
    assert not (tmp_path / "elsewhere.duckdb").exists()


def test_contradictory_or_ignored_flags_are_refused_in_one_line(tmp_path: Path, seeds_dir: Path) -> None:
    db = tmp_path / "news.duckdb"
    both = run("ingest", "--seeds", str(seeds_dir), "--feeds", str(tmp_path / "feeds.yaml"), "--db", str(db))
    assert both.returncode == 2 and both.stderr.count("\n") == 1 and "--seeds and --feeds" in both.stderr
    force = run("ingest", "--seeds", str(seeds_dir), "--force", "--db", str(db))
    assert force.returncode == 2 and "--force goes only with --feeds" in force.stderr
    assert not db.exists()  # nothing ran


def test_job_failure_is_one_line_and_non_zero(tmp_path: Path) -> None:
    result = run("ingest", "--seeds", str(tmp_path / "missing"), "--db", str(tmp_path / "x.duckdb"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("newsflow: error: seed folder")
    assert run("stats", "--db", str(tmp_path / "none.duckdb")).returncode == 1


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n  - url: https://a.example/rss\n    name: A\n   - url: https://b.example/rss\n", encoding="utf-8"
    )
    for command in (["feeds"], ["ingest", "--db", str(tmp_path / "news.duckdb")]):
        result = run(*command, "--feeds", str(feeds))
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith(f"newsflow: error: {feeds}:4:4: not valid YAML: expected <block end>"), (
            result.stderr
        )
        assert "began at line 2, column 3" in result.stderr
    feeds.write_text('feeds:\n  - {url: "https://a.example/rss, name: A}\n', encoding="utf-8")  # an unclosed quote
    result = run("feeds", "--feeds", str(feeds))
    assert f"{feeds}:3:1: not valid YAML: found unexpected end of stream" in result.stderr
    assert "quoted scalar that began at line 2, column 11" in result.stderr


@pytest.mark.slow
def test_eval_commands_print_scores(shared_dir: Path) -> None:
    entities = run("eval", "entities", "--gold", str(shared_dir / "corpora" / "gum-news"), "--json")
    assert entities.returncode == 0, entities.stderr
    assert json.loads(entities.stdout)["overall"]["f1"] >= 0.55
    quotes = run(
        "eval",
        "quotes",
        "--gold",
        str(shared_dir / "gold" / "seed_quotes.jsonl"),
        "--not-quotes",
        str(shared_dir / "gold" / "seed_not_quotes.jsonl"),
        "--json",
    )
    assert quotes.returncode == 0, quotes.stderr
    scores = json.loads(quotes.stdout)
    assert scores["f1"] >= 0.95 and scores["speaker_accuracy"] >= 0.9 and scores["not_quotes_extracted"] == 0
    dedup = run("eval", "dedup", "--shared", str(shared_dir), "--json")
    assert dedup.returncode == 0, dedup.stderr
    result = json.loads(dedup.stdout)
    assert result["precision"] >= 0.97 and result["recall"] >= 0.85


@pytest.mark.slow
def test_entities_and_quotes_load_and_join(tmp_path: Path, seeds_dir: Path) -> None:
    db = tmp_path / "news.duckdb"
    assert run("ingest", "--seeds", str(seeds_dir), "--db", str(db)).returncode == 0
    lavrov = json.loads(
        run(
            "query",
            "--db",
            str(db),
            "--json",
            "SELECT count(DISTINCT m.article_id) AS articles FROM entity_mentions m "
            "JOIN entities e USING (entity_id) WHERE e.name = 'Sergey Lavrov'",
        ).stdout
    )
    assert lavrov == [{"articles": 5}]
    speakers = json.loads(
        run(
            "query",
            "--db",
            str(db),
            "--json",
            "SELECT e.name, count(*) AS quotes FROM quotes q JOIN entities e "
            "ON e.entity_id = q.speaker_entity_id GROUP BY 1",
        ).stdout
    )
    by_name = {row["name"]: row["quotes"] for row in speakers}
    assert by_name["Sergey Lavrov"] >= 4 and by_name["Russian Foreign Ministry"] >= 5
    offsets = json.loads(
        run(
            "query",
            "--db",
            str(db),
            "--json",
            "SELECT count(*) AS bad FROM quotes q JOIN articles a USING (article_id) "
            "WHERE substr(a.body_text, q.start_char + 1, q.end_char - q.start_char) <> q.quote_text",
        ).stdout
    )
    assert offsets == [{"bad": 0}]


WIDE_TABLE = """
CREATE TABLE wide AS SELECT * FROM (VALUES
  ('3f9a0c1d2e4b5a69', 'Lavrov says talks with Washington will resume in Geneva next week, ministry confirms', 'MOSCOW',
   'en', 512, 'MOSCOW (Reuters) - Russian Foreign Minister Sergey Lavrov said on Tuesday that talks would resume',
   TIMESTAMP '2024-03-05 09:30:00', 'https://news.example.com/world/2024/03/05/lavrov-says-talks-will-resume-in-geneva'),
  ('8b7e6d5c4a39f0e1', 'Ministry: "no comment",' || chr(10) || 'for now | said the spokeswoman in a statement', NULL,
   'ru', NULL,
   'Line one' || chr(13) || chr(10) || 'line two of a lead that runs on well past any terminal width at all',
   TIMESTAMP '2024-03-06 18:00:00', 'https://news.example.com/europe/2024/03/06/ministry-no-comment-for-now'),
  ('c0ffee0000000001', 'Summit in Tokyo: 東京で首脳会談、共同声明を発表 as leaders agree on a framework', 'TOKYO',
   'ja', 1234, '', NULL, 'https://news.example.com/asia/2024/03/07/tokyo-summit-joint-statement-framework')
) AS t(article_id, title, dateline_place, language, word_count, lead, first_seen_at, url)
"""


@pytest.mark.slow
def test_query_table_fits_80_columns_one_line_per_row(tmp_path: Path) -> None:
    db = tmp_path / "wide.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(WIDE_TABLE)
    sql = "SELECT * FROM wide ORDER BY article_id"
    table = run("query", sql, "--db", str(db), env={"COLUMNS": "80"})
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), table.stdout
    assert len(lines) == 3 + 4 + 2  # three rows, a header and three rules, and what was left out
    assert (
        [line[:6] for line in lines[3:6]] == ["│ 3f9a", "│ 8b7e", "│ c0ff"] and "…" in lines[3] and "NULL" in lines[4]
    )
    assert lines[-2] == "2 of 8 columns not shown: first_seen_at, url" and "--format line" in lines[-1]
    assert "first_seen_at" in run("query", sql, "--db", str(db), env={"COLUMNS": "120"}).stdout.splitlines()[1]
    records = run("query", sql, "--db", str(db), "--format", "line", env={"COLUMNS": "80"}).stdout.split("\n\n")
    assert len(records) == 3 and records[0].splitlines()[-1] == (
        "           url: https://news.example.com/world/2024/03/05/lavrov-says-talks-will-resume-in-geneva"
    )

    full = list(csv.reader(io.StringIO(run("query", sql, "--db", str(db), "-f", "csv").stdout, newline="")))
    assert full[0][1] == "title" and full[1][1].startswith("Lavrov") and full[1][1].endswith("ministry confirms")
    assert full[2][5].splitlines() == [
        "Line one",
        "line two of a lead that runs on well past any terminal width at all",
    ]
    assert full[2][2] == "" and len(full) == 4
    markdown = run("query", sql, "--db", str(db), "--format", "markdown", env={"COLUMNS": "80"}).stdout.splitlines()
    assert len(markdown) == 2 + 3 and all(line.startswith("| ") and line.endswith(" |") for line in markdown)
    assert json.loads(run("query", sql, "--db", str(db), "--json").stdout)[2]["word_count"] == 1234


@pytest.mark.slow
def test_docs_writes_the_quality_page_and_prints_its_path(tmp_path: Path) -> None:
    """`newsflow docs` before any load.

    The Data Docs index and an empty data-quality page beside it, in NEWSFLOW_GX_DIR.
    """
    gx = tmp_path / "gx"
    shutil.copytree(PROJECT_ROOT / "gx", gx, ignore=shutil.ignore_patterns("uncommitted"))
    env = {
        "NEWSFLOW_GX_DIR": str(gx),
        "NEWSFLOW_DB": str(tmp_path / "none.duckdb"),
        "NEWSFLOW_FEEDS": str(tmp_path / "none.yaml"),
    }
    docs = run("docs", env=env)
    assert docs.returncode == 0, docs.stderr
    page = Path(docs.stdout.strip().splitlines()[-1])
    assert page == site_dir(gx) / "quality.html" and page.is_file()  # the Data Docs folder of that GX project
    html = page.read_text(encoding="utf-8")
    assert "No run has loaded yet" in html and (page.parent / "index.html").is_file()


def test_the_console_script_exits_with_what_the_command_asked(capsys: pytest.CaptureFixture[str]) -> None:
    """`main` leaves with os._exit after the command; the code must be what sys.exit would have made of it."""
    from pipelines.cli import _exit_code

    assert [_exit_code(None), _exit_code(0), _exit_code(2)] == [0, 0, 2]
    assert _exit_code("newsflow: stopped") == 1 and capsys.readouterr().err == "newsflow: stopped\n"
