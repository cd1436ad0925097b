"""One bad input fails one input, and a failed run says what failed: with the real CLI, files and database."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_ROOT
from pathological import write_folder
from test_cli import run

from pipelines.config import Settings
from pipelines.reporting.refresh import quality_page_path


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def gx_copy(tmp_path: Path) -> Path:
    """The project's GX context and its suites under `tmp_path`, so results and pages are written there."""
    shutil.copytree(PROJECT_ROOT / "gx", tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(PROJECT_ROOT / "schemas" / "expectations", tmp_path / "schemas" / "expectations")
    return tmp_path / "gx"


@pytest.mark.slow
def test_a_folder_of_pathological_files_loads_or_refuses_each_and_long_texts_get_entities_and_quotes(
    tmp_path: Path, seeds_dir: Path
) -> None:
    folder = tmp_path / "seeds"
    added = write_folder(folder, seeds_dir, long_sizes=(1_050_000,), one_line_html_size=300_000)
    db = tmp_path / "news.duckdb"
    result = run(
        "ingest", "--seeds", str(folder), "--db", str(db), "--json", env={"NEWSFLOW_GX_DIR": str(gx_copy(tmp_path))}
    )
    assert result.returncode == 0, result.stderr
    files = sorted(path.name for path in folder.iterdir())
    statuses = query(db, "SELECT uri, status, reason FROM raw_documents ORDER BY uri")
    assert [uri for uri, _, _ in statuses] == files  # every file exactly once
    assert all(status in ("loaded", "quarantined", "skipped") for _, status, _ in statuses)
    assert all(reason for _, status, reason in statuses if status != "loaded")
    by_uri = {uri: (status, reason) for uri, status, reason in statuses}
    assert by_uri["deep.json"] == ("quarantined", "JSON nested too deeply to read")
    assert by_uri["latin1.txt"][0] == "quarantined" and "not UTF-8" in by_uri["latin1.txt"][1]  # never guessed
    for name in ("transcript_1050k.txt", "live_blog_one_line.html", "utf16_with_bom.txt", "nested_divs.html"):
        assert by_uri[name][0] == "loaded", (name, added[name], by_uri[name])
    ((length, mentions, quotes),) = query(
        db,
        """
        SELECT length(a.body_text), (SELECT count(*) FROM entity_mentions m WHERE m.article_id = a.article_id),
               (SELECT count(*) FROM quotes q WHERE q.article_id = a.article_id)
        FROM articles a JOIN raw_documents r USING (raw_id) WHERE r.uri = 'transcript_1050k.txt'""",
    )
    assert length > 1_000_000  # more than spaCy reads in one piece
    assert mentions > 1_000 and quotes > 100


@pytest.mark.slow
def test_a_failed_run_is_recorded_named_and_listed_first_in_red(tmp_path: Path, seeds_dir: Path) -> None:
    db, gx, seeds = tmp_path / "news.duckdb", gx_copy(tmp_path), tmp_path / "seeds"
    shutil.copytree(seeds_dir, seeds)
    env = {"NEWSFLOW_GX_DIR": str(gx)}
    assert run("ingest", "--seeds", str(seeds), "--db", str(db), env=env).returncode == 0
    blocked = tmp_path / "staging"
    blocked.write_text("a file where the staging folder should be", encoding="utf-8")
    failed = run("ingest", "--seeds", str(seeds), "--db", str(db), env={**env, "NEWSFLOW_STAGING_DIR": str(blocked)})
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1, failed.stderr
    assert "staging" in failed.stderr
    runs = query(db, "SELECT status, error FROM ingest_runs ORDER BY started_at")
    assert [status for status, _ in runs] == ["success", "failed"]
    assert runs[1][1] and "staging" in runs[1][1]
    (seeds / "extra.txt").write_text(
        "Budget agreed\n\nThe council agreed on Friday to publish the full budget "
        "figures before the vote next month, its chair said.",
        encoding="utf-8",
    )
    assert run("ingest", "--seeds", str(seeds), "--db", str(db), env=env).returncode == 0  # a newer run, published
    page = quality_page_path(Settings.from_env(db_path=db, gx_dir=gx)).read_text(encoding="utf-8")
    rows = [chunk.split('"', 1)[0] for chunk in page.split('<tr class="run" data-run="')[1:]]
    statuses = dict(query(db, "SELECT run_id, status FROM ingest_runs"))
    assert len(rows) == 3 and statuses[rows[0]] == "failed"  # first, though not the newest
    assert 'class="run-error"' in page and 'class="badge run-failed"' in page


def test_the_cli_error_names_the_input_a_batch_failure_happened_on() -> None:
    from pipelines.failures import describe, refusal

    try:
        try:
            raise MemoryError("out of memory")
        except MemoryError as exc:
            refusal("annotating", exc, "seeds/transcript.txt")
    except MemoryError as raised:
        assert describe(raised) == "MemoryError: out of memory (while annotating seeds/transcript.txt)"
    else:
        pytest.fail("a batch failure must be raised again")
    assert refusal("reading", RecursionError("maximum recursion depth exceeded"), "deep.json") == (
        "reading failed on this input: RecursionError: maximum recursion depth exceeded"
    )


def test_failed_notes_name_each_step(tmp_path: Path) -> None:
    """Airflow's steps note their failure beside the stages; the run's record joins them."""
    from datetime import UTC, datetime

    from pipelines.pipeline import noting_failure, record_failed_run

    settings = Settings.from_env(
        db_path=tmp_path / "news.duckdb", staging_dir=tmp_path / "staging", gx_dir=gx_copy(tmp_path)
    )
    for step in ("poll", "poll"):
        with pytest.raises(ValueError), noting_failure(settings, "run-1", step):
            raise ValueError(f"{step} broke")
    error = record_failed_run(settings, "run-1", "airflow", datetime.now(UTC))
    assert error == "poll: ValueError: poll broke; poll: ValueError: poll broke"
    record_failed_run(settings, "run-1", "airflow", datetime.now(UTC))  # the run has its row: nothing is added
    assert query(settings.db_path, "SELECT status, error FROM ingest_runs") == [("failed", error)]
    assert json.dumps(sorted(path.name for path in settings.staging_dir.iterdir())) == "[]"  # the notes are gone


@pytest.mark.slow
def test_a_feed_page_megabytes_long_loads_like_any_other(
    own_server, tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsfake import rss
    from pathological import long_text, news_paragraphs

    from pipelines.http.fetcher import Fetcher, FetchPolicy
    from pipelines.pipeline import ingest_feeds

    paragraphs = long_text(news_paragraphs(seeds_dir), 1_100_000, "Live: the summit, hour by hour").split("\n\n")
    page = "<html><head><title>Live: the summit</title></head><body><article>{}</article></body></html>".format(
        "".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    )
    url = own_server.serve("/live/summit.html", page.encode("utf-8"))
    feed = own_server.put(
        "live.rss",
        rss([f"<item><title>Live: the summit</title><link>{url}</link><guid>live-1</guid></item>"]),
        "application/rss+xml",
    )
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f'feeds:\n  - {{url: "{feed}", name: Live}}\n', encoding="utf-8")
    monkeypatch.setenv("NEWSFLOW_ALLOW_HOSTS", "127.0.0.1")
    settings = Settings.from_env(
        db_path=tmp_path / "news.duckdb",
        staging_dir=tmp_path / "staging",
        feeds_file=feeds,
        gx_dir=gx_copy(tmp_path),
        workers=1,
    )
    with Fetcher(FetchPolicy.from_settings(settings, per_host_delay=0.0, total_timeout=30.0)) as client:
        counts = ingest_feeds(settings, force=True, fetcher=client)
    assert counts is not None and counts.articles_new == 1 and counts.quarantined == 0
    ((length, mentions, quotes),) = query(
        settings.db_path,
        """
        SELECT length(body_text), (SELECT count(*) FROM entity_mentions m WHERE m.article_id = a.article_id),
               (SELECT count(*) FROM quotes q WHERE q.article_id = a.article_id) FROM articles a""",
    )
    assert length > 1_000_000 and mentions > 1_000 and quotes > 100
