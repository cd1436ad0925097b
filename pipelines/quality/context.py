"""The GX file context (gx/ in the project, `Settings.gx_dir`): opened once per process, for the gate and the docs.

Importing Great Expectations costs seconds and logs hundreds of INFO lines; both are paid here, on
first use, never when a module of this package is imported.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from great_expectations.data_context import FileDataContext

GX_LOGGER = "great_expectations"
GX_MODULE = "great_expectations"


@functools.lru_cache(maxsize=4)
def open_context(context_dir: Path) -> FileDataContext:
    """Import GX and open the file context once per process and folder: the import alone takes seconds.

    GX's import chatter ("Skipping registering function ...") would flood Airflow's task logs, so
    its own logger is raised to WARNING just before the import, the only place GX gets loaded.
    """
    logging.getLogger(GX_LOGGER).setLevel(logging.WARNING)
    import great_expectations as gx

    return gx.get_context(mode="file", context_root_dir=str(context_dir))


def preload(context_dir: Path | str) -> None:
    """Import GX and open the context now, in a process that forks task processes, so each task inherits them."""
    open_context(Path(context_dir).resolve())


def gx_loaded() -> bool:
    """Whether this process already paid GX's import (a preloaded or earlier validation)."""
    return GX_MODULE in sys.modules
