"""Publishing: a reader holding the read-only snapshot is never blocked by a load, and sees new rows when it reopens."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.pipeline import ingest_folder

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*) FROM articles").fetchone()[0], flush=True)
sys.stdin.readline()  # hold the file open while the test loads more data
print(con.execute("SELECT count(*) FROM articles").fetchone()[0], flush=True)
"""


def test_a_reader_holding_the_published_copy_never_blocks_a_load(tmp_path: Path, seeds_dir: Path) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(seeds_dir, folder)
    settings = Settings.from_env(seeds_dir=folder, db_path=tmp_path / "news.duckdb",
                                 read_db_path=tmp_path / "news_read.duckdb", staging_dir=tmp_path / "stage")
    ingest_folder(settings)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(settings.read_db_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "5"
        (folder / "extra.txt").write_text("A new headline\n\nThe council met again on Friday to discuss the budget, "
                                          "and agreed to publish the full figures before the vote next month.")
        counts = ingest_folder(settings)  # writes the database and publishes a new copy under the reader
        assert counts.articles_new == 1
        out, _ = reader.communicate("\n", timeout=60)
        assert out.strip() == "5"  # the reader's session goes on, on the copy it opened
    finally:
        reader.kill()
    con = duckdb.connect(str(settings.read_db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 6
    con.close()
