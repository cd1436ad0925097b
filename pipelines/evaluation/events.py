"""Event grouping against gold event labels, scored the way the maintainers score it: B-cubed over articles.

Gold: JSON lines with `doc` (an id), `event` (the gold event) and `text` (../shared/corpora/ecbplus-events-dev).
Every article is loaded as one input through the real pipeline (a folder of text files, a fresh DuckDB
file, the seeds' run in `batches` runs), and the event each article was assigned is read back from
`article_events`. B-cubed (Bagga & Baldwin 1998): for each article, precision is the share of its predicted
event that shares its gold event, recall the share of its gold event inside its predicted event; both are
averaged over articles. An input that was not loaded counts as an event of its own.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pipelines.config import Settings


@dataclass(frozen=True, slots=True)
class GoldDoc:
    doc: str
    event: str
    text: str


@dataclass(frozen=True, slots=True)
class EventScores:
    articles: int
    gold_events: int
    predicted_events: int
    not_loaded: int  # inputs with no event (refused): each counted alone
    batches: int
    precision: float
    recall: float
    f1: float

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def read_gold(path: Path) -> list[GoldDoc]:
    """The gold file's documents; a line without `doc`, `event` or `text` is an error that names the line."""
    docs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = [key for key in ("doc", "event", "text") if not isinstance(row.get(key), str)]
        if missing:
            raise ValueError(f"{path}:{number}: no {', '.join(missing)}")
        docs.append(GoldDoc(row["doc"], row["event"], row["text"]))
    if len({doc.doc for doc in docs}) != len(docs):
        raise ValueError(f"{path}: a doc id appears twice")
    return docs


def bcubed(predicted: Mapping[str, str], gold: Mapping[str, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a grouping (item -> group) against gold (item -> class), same items."""
    if set(predicted) != set(gold) or not gold:
        raise ValueError("the grouping and the gold must name the same, non-empty set of items")
    pairs = Counter((predicted[item], gold[item]) for item in gold)
    group_sizes = Counter(predicted.values())
    class_sizes = Counter(gold.values())
    precision = sum(n * n / group_sizes[group] for (group, _), n in pairs.items()) / len(gold)
    recall = sum(n * n / class_sizes[cls] for (_, cls), n in pairs.items()) / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate_events(gold_file: Path, settings: Settings, batches: int = 1) -> EventScores:
    """Load the gold texts in `batches` runs (the later half of the file first) and score their events."""
    from pipelines.pipeline import ingest_folder, run_query

    docs = read_gold(gold_file)
    if batches < 1:
        raise ValueError("batches must be at least 1")
    with tempfile.TemporaryDirectory(prefix="newsflow-eval-events-") as work:
        root = Path(work)
        seeds = root / "seeds"
        seeds.mkdir()
        run = replace(
            settings,
            db_path=root / "news.duckdb",
            writer_db_path=root / ".writer" / "news.duckdb",
            seeds_dir=seeds,
            staging_dir=root / "staging",
        )
        for part in _batches(docs, batches):
            for doc in part:
                (seeds / _file_name(doc.doc)).write_text(doc.text, encoding="utf-8")
            ingest_folder(run, trigger="eval")
        _, rows = run_query(
            run,
            "SELECT r.uri, e.event_id FROM raw_documents r"
            " JOIN article_versions v USING (raw_id) JOIN article_events e USING (article_id)",
        )
    event_of_file = {Path(str(uri)).name: str(event) for uri, event in rows}
    predicted = {doc.doc: event_of_file.get(_file_name(doc.doc), f"not loaded: {doc.doc}") for doc in docs}
    precision, recall, f1 = bcubed(predicted, {doc.doc: doc.event for doc in docs})
    return EventScores(
        articles=len(docs),
        gold_events=len({doc.event for doc in docs}),
        predicted_events=len(set(predicted.values())),
        not_loaded=sum(1 for doc in docs if _file_name(doc.doc) not in event_of_file),
        batches=batches,
        precision=round(precision, 3),
        recall=round(recall, 3),
        f1=round(f1, 3),
    )


def _batches(docs: Sequence[GoldDoc], count: int) -> list[list[GoldDoc]]:
    """`count` runs of about equal size, the file's last part first: an order other than the file's."""
    size = -(-len(docs) // count)
    return [list(docs[start : start + size]) for start in range(0, len(docs), size)][::-1]


def _file_name(doc: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in doc) + ".txt"


def format_scores(scores: EventScores) -> str:
    return "\n".join(
        [
            f"{scores.articles} articles, {scores.gold_events} gold events, {scores.predicted_events} found"
            f" ({scores.batches} batch{'es' if scores.batches > 1 else ''}; {scores.not_loaded} not loaded)",
            f"B-cubed precision {scores.precision:.3f}  recall {scores.recall:.3f}  F1 {scores.f1:.3f}",
        ]
    )
