"""Airflow imports this module at start-up in every process (the plugins folder is on its path).

In the processes that fork task processes (the scheduler, whose LocalExecutor workers run tasks,
and a Celery worker) it loads Great Expectations and newsflow's GX context once, so every
`validate` task inherits them instead of paying GX's import (about 11 CPU-seconds) again.
Other Airflow commands (api-server, dag-processor, the CLI) start as before.
"""

from __future__ import annotations

import sys

FORKING_COMMANDS = (("scheduler",), ("celery", "worker"))


def forks_task_processes(argv: list[str]) -> bool:
    words = [arg for arg in argv[1:] if not arg.startswith("-")]
    return any(tuple(words[: len(command)]) == command for command in FORKING_COMMANDS)


if forks_task_processes(sys.argv):
    from pipelines.config import Settings
    from pipelines.quality.context import preload

    preload(Settings.from_env().gx_dir)
