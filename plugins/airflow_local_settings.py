"""Airflow imports this module at start-up in every process (the plugins folder is on its path).

In the processes that fork task processes (the scheduler, whose LocalExecutor workers run tasks,
and a Celery worker) it loads, once, what the tasks would each load again: Great Expectations and
newsflow's GX context (`validate`: 6–12 CPU-seconds), the spaCy model (`stage` and `poll`, whose own
worker processes fork from them in turn: 1–2 s), datasketch with scipy (`load`'s MinHash) and the
pipeline's modules (DuckDB, pyarrow, httpx...): seconds per task, most of a feed poll's latency.
Other Airflow commands (api-server, dag-processor, the CLI) start as before.
"""

from __future__ import annotations

import sys

FORKING_COMMANDS = (("scheduler",), ("celery", "worker"))


def forks_task_processes(argv: list[str]) -> bool:
    words = [arg for arg in argv[1:] if not arg.startswith("-")]
    return any(tuple(words[: len(command)]) == command for command in FORKING_COMMANDS)


if forks_task_processes(sys.argv):
    import logging

    import datasketch  # noqa: F401  (imported for the task processes forked from here)

    import pipelines.pipeline  # noqa: F401  (the same: the pipeline's modules, imported once before the fork)
    from pipelines.config import Settings
    from pipelines.nlp.annotate import load_models
    from pipelines.quality.context import preload

    settings = Settings.from_env()
    preload(settings.gx_dir)
    try:
        load_models(settings.spacy_model)
    except OSError as exc:  # a model that is not installed fails the stage tasks with this reason, not the scheduler
        logging.getLogger(__name__).warning("newsflow: spaCy model not preloaded: %s", exc)
