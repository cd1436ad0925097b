"""The one file analysts open: a small DuckDB catalog of views over the published Parquet segments.

A publish writes a new catalog beside the old one and renames it into place (`data/news.duckdb`): a
view per segmented table over the exact files of this snapshot, the small tables themselves
(`tables.PUBLISHED_WHOLE`), and the analysts' views from `schemas/views/`. It is a few hundred KB
whatever the history, in DuckDB's v1.4.0 format, so any DuckDB from 1.4 on opens it.

Paths. DuckDB resolves a relative path against the working directory, not the database file. So the
views find the segments from the catalog's own location: `newsflow_folder()` is the folder beside the
catalog (`news.parquet/` beside `news.duckdb`), taken from the catalog's temp directory, which DuckDB
names after the file it opened (`<file>.tmp`). The published folder can therefore be moved or copied as a
whole. (Attached from another session, the catalog's views resolve the folder against the working
directory instead: `SET file_search_path` to the catalog's folder first.)

Readers. A session keeps the catalog it opened, and with it the files that catalog lists: a publish never
changes a file, and a file is deleted only when no catalog that lists it is open. Each catalog stays in
`news.parquet/_catalogs/` under its number (the published name is a hard link to the newest), so a
reader is seen by the lock DuckDB holds on the file it opened. `news.parquet/manifest.json` lists the
current files of each table for Parquet readers (pandas, Polars, R's arrow, Spark).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.storage.segments import Segment
from pipelines.storage.store import Store
from pipelines.tables import PUBLISHED_WHOLE

# What `ATTACH … (STORAGE_VERSION …)` calls the format; DuckDB tags such a file 'v1.4.0+'.
PUBLISHED_STORAGE_VERSION = "v1.4.0"
CATALOGS = "_catalogs"
MANIFEST = "manifest.json"
# The table that says a DuckDB file is a catalog (not the single-file snapshot older installs published).
MARKER = "newsflow_catalog"
# What the catalog being written is attached as, in the writer's connection.
CATALOG_ALIAS = "newsflow_publishing"
FOLDER_VARIABLE = "newsflow_publishing_folder"


def published_folder(db_path: Path) -> Path:
    """Where the segments live: `news.parquet/` beside `news.duckdb`."""
    return db_path.with_name(f"{db_path.stem}.parquet")


def write_catalog(
    store: Store, db_path: Path, tmp: Path, segments: Mapping[str, Sequence[Segment]], schemas_dir: Path
) -> int:
    """Write the catalog of this snapshot at `tmp` (beside `db_path`, where it will be renamed); its number.

    Written through the writer's own connection (ATTACH, not a second DuckDB instance): a new instance in a
    process whose writer caches gigabytes took 0.6-0.8 s to start at a million articles, most of a publish.
    """
    folder = published_folder(db_path)
    number = _next_number(folder)
    con = store.con
    ((writer,),) = con.execute("SELECT current_database()").fetchall()
    con.execute(f"ATTACH {sql_string(tmp)} AS {CATALOG_ALIAS} (STORAGE_VERSION '{PUBLISHED_STORAGE_VERSION}')")
    # A view's files are found when it is created, from this connection: the writer's folder is not the catalog's.
    con.execute(f"SET VARIABLE {FOLDER_VARIABLE} = {sql_string(folder)}")
    try:
        con.execute(
            f"USE {CATALOG_ALIAS}"
        )  # the views' and tables' names resolve in the catalog, as they will when opened
        con.execute("BEGIN TRANSACTION")  # one commit: a write-ahead-log flush per statement costs more than the rest
        _folder_macro(con, folder.name)
        for table, files in segments.items():
            listed = ", ".join(f"newsflow_folder() || '/{segment.file}'" for segment in files)
            con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM read_parquet([{listed}])')
        for table in PUBLISHED_WHOLE:
            _copy_table(con, writer, table)
        con.execute(
            f"CREATE TABLE {MARKER} AS SELECT ? AS snapshot, ?::TIMESTAMPTZ AS published_at",
            [number, datetime.now(UTC)],
        )
        for view in sorted((schemas_dir / "views").glob("*.sql")):
            con.execute(view.read_text(encoding="utf-8"))
        con.execute("COMMIT")
    except BaseException:
        _roll_back(con)
        raise
    finally:
        con.execute(f'USE "{writer}"')
        con.execute(f"RESET VARIABLE {FOLDER_VARIABLE}")
        con.execute(f"DETACH {CATALOG_ALIAS}")
    return number


def _roll_back(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # no transaction was open yet
        con.execute("ROLLBACK")


def put_in_place(db_path: Path, tmp: Path, number: int, segments: Mapping[str, Sequence[Segment]]) -> None:
    """Keep the catalog under its number, list its files, then make it the published one in one rename."""
    folder = published_folder(db_path)
    kept = folder / CATALOGS / f"{number:010d}.duckdb"
    kept.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(segment.file for listed in segments.values() for segment in listed)
    _write_atomically(kept.with_suffix(".files"), "\n".join(files) + "\n")
    _write_atomically(
        folder / MANIFEST,
        json.dumps(
            {
                "snapshot": number,
                "tables": {table: [segment.file for segment in listed] for table, listed in segments.items()},
            },
            indent=1,
        ),
    )
    _flush(tmp)
    os.link(tmp, kept)
    os.replace(tmp, db_path)
    _flush(db_path.parent)


def collect_garbage(db_path: Path) -> int:
    """Delete catalogs no session holds (the newest two always stay) and the files only they listed; bytes freed."""
    folder = published_folder(db_path)
    catalogs = sorted((folder / CATALOGS).glob("*.duckdb"))
    for catalog in catalogs[:-2]:
        if not _held(catalog):
            catalog.unlink()
            catalog.with_suffix(".files").unlink(missing_ok=True)
    live = {
        line
        for listing in (folder / CATALOGS).glob("*.files")
        for line in listing.read_text(encoding="utf-8").splitlines()
        if line
    }
    freed = 0
    for file in folder.glob("*/*.parquet"):
        if file.relative_to(folder).as_posix() not in live and file.parent.name != CATALOGS:
            freed += file.stat().st_size
            file.unlink()
    return freed


def is_catalog(db_path: Path) -> bool:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        ((found,),) = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [MARKER]).fetchall()
        return bool(found)
    finally:
        con.close()


def manifest_files(db_path: Path) -> dict[str, list[Path]]:
    """The current files of each segmented table, as the manifest lists them (absolute paths)."""
    folder = published_folder(db_path)
    listing = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return {table: [folder / file for file in files] for table, files in listing["tables"].items()}


def _folder_macro(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """`newsflow_folder()`: the segments' folder beside the catalog file, wherever the folder was moved (while the
    publish writes the catalog: the folder it names)."""
    here = "parse_dirpath(current_setting('temp_directory'))"
    con.execute(
        f"CREATE MACRO newsflow_folder() AS coalesce(getvariable('{FOLDER_VARIABLE}'),"
        f" coalesce(nullif({here}, '') || '/', '') || '{name}')"
    )


def _copy_table(con: duckdb.DuckDBPyConnection, writer: str, table: str) -> None:
    """A small table of the writer's database in the catalog being written (the current one): its DDL (keys,
    types) and its rows."""
    ((ddl,),) = con.execute(
        "SELECT sql FROM duckdb_tables() WHERE table_name = ? AND database_name = ?", [table, writer]
    ).fetchall()
    con.execute(ddl)
    con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM "{writer}".main."{table}"')


def sql_string(path: Path) -> str:
    """A path as a SQL string literal (ATTACH and COPY take no parameters)."""
    return "'" + str(path).replace("'", "''") + "'"


def _next_number(folder: Path) -> int:
    numbers = [int(path.stem) for path in (folder / CATALOGS).glob("*.duckdb") if path.stem.isdigit()]
    return max(numbers, default=0) + 1


def _held(path: Path) -> bool:
    """Whether a DuckDB session (any process) has this file open: DuckDB locks the file it opens."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    _flush(tmp)
    os.replace(tmp, path)


def _flush(path: Path) -> None:
    """fsync a file or a directory, so a rename never makes a name point at data not yet on disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
