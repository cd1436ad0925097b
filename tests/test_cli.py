"""The `newsflow` console script, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NEWSFLOW = [sys.executable, "-m", "pipelines.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NEWSFLOW, *args], capture_output=True, text=True, timeout=600)


def test_ingest_twice_gives_identical_counts(tmp_path: Path, seeds_dir: Path) -> None:
    db = tmp_path / "news.duckdb"
    first = run("ingest", "--seeds", str(seeds_dir), "--db", str(db), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["articles_new"] == 5
    counts = json.loads(run("stats", "--db", str(db), "--json").stdout)
    second = run("ingest", "--seeds", str(seeds_dir), "--db", str(db), "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) | {"run_id": None} == json.loads(first.stdout) | {
        "run_id": None, "articles_new": 0, "unchanged": 5}
    again = json.loads(run("stats", "--db", str(db), "--json").stdout)
    assert again == counts | {"ingest_runs": counts["ingest_runs"] + 1, "run_source_counts": counts["run_source_counts"] + 1}
    assert counts["articles"] == 5 and counts["raw_documents"] == 5

    table = run("stats", "--db", str(db))
    assert "articles" in table.stdout and str(db) in table.stdout and "SELECT" in table.stdout
    rows = json.loads(run("query", "SELECT count(*) AS n FROM articles WHERE title IS NULL", "--db", str(db), "--json").stdout)
    assert rows == [{"n": 2}]


def test_job_failure_is_one_line_and_non_zero(tmp_path: Path) -> None:
    result = run("ingest", "--seeds", str(tmp_path / "missing"), "--db", str(tmp_path / "x.duckdb"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("newsflow: error: seed folder")
    assert run("stats", "--db", str(tmp_path / "none.duckdb")).returncode == 1


def test_eval_commands_print_scores(shared_dir: Path) -> None:
    entities = run("eval", "entities", "--gold", str(shared_dir / "corpora" / "gum-news"), "--json")
    assert entities.returncode == 0, entities.stderr
    assert json.loads(entities.stdout)["overall"]["f1"] >= 0.55
    quotes = run("eval", "quotes", "--gold", str(shared_dir / "gold" / "seed_quotes.jsonl"),
                 "--not-quotes", str(shared_dir / "gold" / "seed_not_quotes.jsonl"), "--json")
    assert quotes.returncode == 0, quotes.stderr
    scores = json.loads(quotes.stdout)
    assert scores["f1"] >= 0.95 and scores["speaker_accuracy"] >= 0.9 and scores["not_quotes_extracted"] == 0
    dedup = run("eval", "dedup", "--shared", str(shared_dir), "--json")
    assert dedup.returncode == 0, dedup.stderr
    result = json.loads(dedup.stdout)
    assert result["precision"] >= 0.97 and result["recall"] >= 0.85


def test_entities_and_quotes_load_and_join(tmp_path: Path, seeds_dir: Path) -> None:
    db = tmp_path / "news.duckdb"
    assert run("ingest", "--seeds", str(seeds_dir), "--db", str(db)).returncode == 0
    lavrov = json.loads(run("query", "--db", str(db), "--json",
                            "SELECT count(DISTINCT m.article_id) AS articles FROM entity_mentions m "
                            "JOIN entities e USING (entity_id) WHERE e.name = 'Sergey Lavrov'").stdout)
    assert lavrov == [{"articles": 5}]
    speakers = json.loads(run("query", "--db", str(db), "--json",
                              "SELECT e.name, count(*) AS quotes FROM quotes q JOIN entities e "
                              "ON e.entity_id = q.speaker_entity_id GROUP BY 1").stdout)
    by_name = {row["name"]: row["quotes"] for row in speakers}
    assert by_name["Sergey Lavrov"] >= 4 and by_name["Russian Foreign Ministry"] >= 5
    offsets = json.loads(run("query", "--db", str(db), "--json",
                             "SELECT count(*) AS bad FROM quotes q JOIN articles a USING (article_id) "
                             "WHERE substr(a.body_text, q.start_char + 1, q.end_char - q.start_char) <> q.quote_text").stdout)
    assert offsets == [{"bad": 0}]
