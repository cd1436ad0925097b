"""The news_ingest DAG end to end in a real Airflow (temp AIRFLOW_HOME, SQLite metadata) with dag.test()."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import HeldReader, run_dag_test

from pipelines.config import PROJECT_ROOT
from pipelines.workers import worker_count

HEAVY_MODULES = ("duckdb", "trafilatura", "spacy", "great_expectations", "pandas", "pyarrow")
# The settings a DAG needs at parse time (schedule, shards) are read by pipelines.config, which is stdlib only.
PARSE_TIME_MODULES = {"pipelines", "pipelines.config"}


@pytest.mark.parametrize("dag_file", sorted((PROJECT_ROOT / "dags").glob("*.py")), ids=lambda path: path.name)
def test_dag_files_import_nothing_heavy(dag_file: Path) -> None:
    probe = (
        "import importlib.util, json, sys\n"
        f"sys.path.insert(0, {str(dag_file.parent)!r})\n"
        f"spec = importlib.util.spec_from_file_location('d', {str(dag_file)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        f"print(json.dumps(sorted(n for n in sys.modules if n in {HEAVY_MODULES!r} or n.startswith('pipelines'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300)
    assert set(json.loads(out.stdout.strip().splitlines()[-1])) <= PARSE_TIME_MODULES


@pytest.mark.slow
def test_news_ingest_dag_loads_the_seeds(airflow_env: dict[str, str]) -> None:
    result = run_dag_test(airflow_env, "news_ingest.py", "news_ingest_dag")
    assert result["state"].endswith("success")

    con = duckdb.connect(airflow_env["NEWSFLOW_DB"], read_only=True)
    rows = {
        uri: rest
        for uri, *rest in con.execute(
            "SELECT uri, title, alt_title, dateline_place, dateline_agency, dateline_month, dateline_day,"
            " dateline_year, language, mixed_language, byline, body_text FROM articles"
        ).fetchall()
    }
    assert len(rows) == 5
    seed = {uri[:3]: values for uri, values in rows.items()}
    assert seed["000"][:2] == [
        "Lavrov, in Moscow to meet with foreign Minister of Japan",
        "Лавров в Москве встретится с главой МИД Японии",
    ]
    assert seed["000"][7:9] == ["en", True]
    assert seed["001"][0] == "Russian and Japanese foreign ministers to discuss peace treaty in Moscow"
    assert seed["001"][2:7] == ["MOSCOW", "TASS", 9, 21, None]
    assert seed["002"][2:7] == ["TOKYO", "TASS", 3, 20, None]
    assert seed["003"][0] is None and seed["004"][0] is None  # no headline line: no invented title
    assert seed["004"][9] == "Kyodo"
    for values in rows.values():
        body = values[-1]
        assert values[7] == "en"
        for noise in ("All news", "• Kyodo", "By subscribing", "quality journalism", "/TASS/"):
            assert noise not in body
    run_ids = [r for (r,) in con.execute("SELECT run_id FROM ingest_runs WHERE status = 'success'").fetchall()]
    assert run_ids == [result["run_id"]]
    # one shard by default (NEWSFLOW_STAGE_SHARDS): nothing is rejected, nothing quarantined
    assert con.execute("SELECT validation_success, rejected_rows FROM ingest_runs").fetchall() == [(True, 0)]
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    con.close()

    metadata = sqlite3.connect(Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db")
    assert metadata.execute("SELECT slots FROM slot_pool WHERE pool = 'duckdb'").fetchone() == (1,)
    pools = metadata.execute(
        "SELECT task_id, map_index, pool, state FROM task_instance WHERE dag_id = 'news_ingest' AND run_id = ?"
        " ORDER BY task_id, map_index",
        [result["run_id"]],
    ).fetchall()
    # no task only to count the shards: `stage` is mapped over them when the DAG file is parsed
    assert pools == [
        ("load", -1, "duckdb", "success"),
        ("record_failure", -1, "duckdb", "skipped"),
        ("stage", 0, "default_pool", "success"),
        ("validate", -1, "default_pool", "success"),
    ]


@pytest.mark.slow
def test_a_reader_held_on_the_published_file_never_fails_the_load_task(
    airflow_env: dict[str, str], tmp_path: Path, seeds_dir: Path
) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(seeds_dir, folder)
    env = {
        **airflow_env,
        "NEWSFLOW_DB": str(tmp_path / "news.duckdb"),
        "NEWSFLOW_SEEDS_DIR": str(folder),
        "NEWSFLOW_STAGING_DIR": str(tmp_path / "staging"),
    }
    first = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "ingest"], env=env, capture_output=True, text=True, timeout=600
    )
    assert first.returncode == 0, first.stderr[-2000:]
    with HeldReader(tmp_path / "news.duckdb") as reader:
        assert reader.articles_at_start == 5
        (folder / "extra.txt").write_text(
            "Budget agreed\n\nThe council agreed on Friday to publish the full budget "
            "figures before the vote next month, its chair said."
        )
        result = run_dag_test(env, "news_ingest.py", "news_ingest_dag")
        assert result["state"].endswith("success")  # no lock error, no retry
        con = duckdb.connect(env["NEWSFLOW_DB"], read_only=True)
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (6,)
        assert con.execute("SELECT count(*) FROM ingest_runs WHERE status = 'success'").fetchone() == (2,)
        con.close()
        assert reader.articles_at_end() == 5
    assert not list((tmp_path / "staging").glob(f"{result['run_id']}*"))  # loaded, so its stages were dropped


@pytest.mark.slow
def test_the_stage_task_runs_its_worker_processes_inside_airflow(airflow_env: dict[str, str], tmp_path: Path) -> None:
    """The stage forks NEWSFLOW_WORKERS processes from the task process: the run succeeds and loads every story."""
    folder = tmp_path / "stories"
    folder.mkdir()
    places = ["harbour", "library", "bridge", "market", "school", "stadium", "museum", "station", "park", "hospital"]
    for index, place in enumerate(places):
        (folder / f"{index:02d}_{place}.txt").write_text(
            f"The {place} reopens\n\nThe city's {place} reopened on Monday after a year of repairs that cost "
            f"{index + 2} million euros, the mayor told reporters outside the {place}.\n\nResidents said they had "
            f"waited a long time for the {place} to reopen, and several hundred came to see it on the first day.",
            encoding="utf-8",
        )
    env = {
        **airflow_env,
        "NEWSFLOW_DB": str(tmp_path / "news.duckdb"),
        "NEWSFLOW_SEEDS_DIR": str(folder),
        "NEWSFLOW_STAGING_DIR": str(tmp_path / "staging"),
        "NEWSFLOW_WORKERS": "2",
    }
    assert worker_count(2, len(places)) == 2  # enough stories for the stage to fork its two workers
    result = run_dag_test(env, "news_ingest.py", "news_ingest_dag")
    assert result["state"].endswith("success")
    con = duckdb.connect(env["NEWSFLOW_DB"], read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (len(places),)
    finally:
        con.close()


@pytest.mark.slow
def test_a_run_whose_stage_fails_is_recorded_as_failed_with_the_error(
    airflow_env: dict[str, str], tmp_path: Path
) -> None:
    """The stage task fails (its seed folder is missing): validate and load never run, `record_failure` leaves the
    run's row, status failed with the stage's error, for the data-quality page, and the run stays red."""
    env = {
        **airflow_env,
        "NEWSFLOW_DB": str(tmp_path / "news.duckdb"),
        "NEWSFLOW_SEEDS_DIR": str(tmp_path / "missing"),
        "NEWSFLOW_STAGING_DIR": str(tmp_path / "staging"),
    }
    result = run_dag_test(env, "news_ingest.py", "news_ingest_dag")
    assert result["state"].endswith("failed")
    con = duckdb.connect(env["NEWSFLOW_DB"], read_only=True)
    try:
        ((run_id, status, error),) = con.execute("SELECT run_id, status, error FROM ingest_runs").fetchall()
    finally:
        con.close()
    assert (run_id, status) == (result["run_id"], "failed")
    assert error.startswith("stage: PipelineError: seed folder") and "missing" in error, error
    metadata = sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db")
    states = dict(metadata.execute("SELECT task_id, state FROM task_instance WHERE run_id = ?", [run_id]).fetchall())
    metadata.close()
    assert states == {
        "stage": "failed",
        "validate": "upstream_failed",
        "load": "upstream_failed",
        "record_failure": "failed",
    }  # recorded, then failed itself: the run's state follows it
    assert not (tmp_path / "staging").exists() or not list((tmp_path / "staging").iterdir())  # the notes are gone
