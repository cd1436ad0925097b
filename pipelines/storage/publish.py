"""Publishing: the read-only snapshot analysts and polling tasks open instead of the writer's file.

DuckDB lets one process write a database file and locks every other process out, readers included.
After every load the writer copies its file to the read path and renames it into place; a reader
keeps the file it opened (the rename swaps the name, not the open file), so a long session never
blocks a load and a load never breaks it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.config import Settings
from pipelines.storage.store import Store, latest_schema_version


@contextmanager
def read_view(settings: Settings) -> Iterator[Store | None]:
    """The published read-only copy: tasks read state without the writer's lock.

    None before the first load, and while the copy predates the current schema (the next load
    republishes it).
    """
    if not settings.read_db_path.exists():
        yield None
        return
    with Store.open(settings.read_db_path, settings.schemas_dir, read_only=True) as store:
        yield store if store.schema_version() >= latest_schema_version(settings.schemas_dir) else None


def publish_read_copy(settings: Settings) -> Path:
    """Copy the database to the read-only path with an atomic rename.

    DuckDB lets one process write and locks every other process out, readers included. Analysts and
    the polling tasks open this copy instead: a reader keeps the file it opened (the rename swaps
    the name, not the open file), so a long session never blocks a load and a load never breaks it.
    """
    target = settings.read_db_path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    shutil.copyfile(settings.db_path, tmp)
    os.replace(tmp, target)
    return target
