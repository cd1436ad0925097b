"""Events step throughput, peak memory and grouping quality on a synthetic corpus, against a real DuckDB file.

The corpus is term vectors, not text (the bench measures the load's `events` step, not the parse): planted
events of EVENT_SIZES articles over DAYS days, each article seen within EVENT_SPREAD_HOURS of its event's
start. An event has its own made-up names (a lead person, other people and organisations, places) and
numbers, a few topic words of its kind (KINDS kinds: two earthquakes share "earthquake", "magnitude"), and
may name some of COMMON_NAMES well-known names; every article adds generic words drawn ~ 1 / rank from
wordfreq's commonest English words, so many events share common words, and 0-3 of GENERIC_NUMBERS
("100", "1,000", "2024": figures any report may give). Each article's terms are weighed
as pipelines.nlp.terms.salient_terms weighs them ((1 + ln count) * class weight * rarity**2 with its own
rarity(), places and numbers double), cut to the heaviest `stored_terms` and scaled to unit length; names
are capitalised; its rare words, people and principal person follow pipelines.nlp.terms.article_terms.

Per batch (`--batch` articles, 1,000 by default, in time order), in one transaction, as the load does: the
`raw_documents`, `article_signatures` and `article_stories` rows the earlier steps would write (each article
its own story), then pipelines.storage.steps.events.load_events itself on a minimal LoadBatch: the candidate join on
`event_keys` against history, plan_cores, the lone articles' choices, the writes of terms, keys, cores,
`article_events` and `events`.
Only load_events is timed, in process CPU seconds (DuckDB's threads included), split into the candidate
lookup, plan_cores, the lone articles' choices (`lone`, its own lookup counted under candidates) and
rebuild_events by wrapping them (per article: `ms_per_article`). The first, second
and last tenth of the batches are summed apart, to show whether the cost per article grows with history
(the first tenth includes the start, when the window of history is not yet full). Each size runs in its own
process, so peak RSS (DuckDB included) is per size; the corpus is generated batch by batch. Grouping is
scored with B-cubed against the planted events (pipelines.evaluation.events.bcubed).

    .venv/bin/python bench/bench_events.py [--articles 10000 100000]
    .venv/bin/python bench/bench_events.py --articles 2000 --batch 500

Prints one JSON line per size (`--out FILE` also writes them as a JSON list); progress every 10 batches on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from spacy.lang.en.stop_words import STOP_WORDS
from wordfreq import top_n_list, zipf_frequency

from pipelines.config import SCHEMAS_DIR, EventConfig, Settings
from pipelines.evaluation.events import bcubed
from pipelines.nlp.terms import rarity
from pipelines.storage import event_queries
from pipelines.storage.batch import LoadBatch, Row
from pipelines.storage.staging import Manifest, Validation
from pipelines.storage.steps import events as events_step
from pipelines.storage.store import Store
from pipelines.storage.versions import VersionPlan

DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_BATCH = 1_000
SEED = 29
START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 60
EVENT_SIZES = (3, 30)
EVENT_SPREAD_HOURS = 60  # an article is seen within this of its event's start (mean a quarter of it)
OUTLETS = 50
ENGLISH = 40_000  # wordfreq's commonest English words, stop words and short or non-alphabetic ones dropped
GENERIC_TOKENS = (60, 220)  # generic content words per article (repeats included), drawn ~ 1 / rank
KINDS = 150  # kinds of happening; events of one kind share topic words
KIND_WORDS = 8
TOPIC_ZIPF = (3.0, 4.5)  # topic words: "earthquake", "magnitude"
COMMON_NAMES = 400  # well-known people and places any event may name, drawn ~ 1 / rank
COMMON_ZIPF = (3.5, 5.2)
COMMON_PEOPLE = 0.6  # share of well-known names that are people
GENERIC_NUMBERS = ("2024", "10", "100", "1", "5", "20", "30", "50", "1,000", "2023")
DOUBLE = 2.0  # places and numbers, as salient_terms weighs them
SYLLABLES = tuple(consonant + vowel for consonant in "bdfghklmnprstvz" for vowel in "aeiou")

PHASES = ("candidates", "plan", "lone", "rebuild")  # the parts of load_events timed apart; the rest is "rest"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Planned:
    """One article to generate: when it is seen, its planted event, its number (its own random stream)."""

    seen_at: datetime
    number: int
    event: int


@dataclass(frozen=True, slots=True)
class Name:
    term: str
    person: bool


@dataclass(frozen=True, slots=True)
class EventVocabulary:
    people: tuple[Name, ...]  # its own people and organisations, the first its lead person
    places: tuple[str, ...]
    numbers: tuple[str, ...]
    topic: tuple[str, ...]  # words of its kind
    common: tuple[Name, ...]  # well-known names it shares with other events


@dataclass(frozen=True, slots=True)
class Article:
    article_id: str
    seen_at: datetime
    event: int
    terms: tuple[str, ...]
    weights: tuple[float, ...]
    principal: str | None
    people: tuple[str, ...]


def _made_up_name(rng: random.Random) -> str:
    """A name English at large has (nearly) never seen: the rarest terms, as a new place or person is."""
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def _ranked_cum(count: int) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + 1) for rank in range(count)))


class Corpus:
    """The planted events and the shared vocabularies, all from one seed; articles are made on demand.

    Generic words, topic words and well-known names are real English words, so the step's rarity (wordfreq,
    pipelines.nlp.terms.rarity) sees them as it would in text; weights use the same rarity.
    """

    def __init__(self, size: int, seed: int = SEED) -> None:
        rng = random.Random(seed)
        self.seed = seed
        words = [w for w in top_n_list("en", ENGLISH) if w.isalpha() and len(w) >= 3 and w not in STOP_WORDS]
        self.generic = words  # by rank: the first is the commonest
        self.generic_cum = _ranked_cum(len(words))
        rank = {word: number for number, word in enumerate(words)}
        topical = [w for w in words if TOPIC_ZIPF[0] <= zipf_frequency(w, "en") <= TOPIC_ZIPF[1]]
        picked = rng.sample(topical, KINDS * KIND_WORDS)
        self.kinds = [tuple(picked[k * KIND_WORDS : (k + 1) * KIND_WORDS]) for k in range(KINDS)]
        known = [w for w in words if COMMON_ZIPF[0] <= zipf_frequency(w, "en") <= COMMON_ZIPF[1]]
        self.common = [  # by rank: the first is the best known
            Name(w.capitalize(), rng.random() < COMMON_PEOPLE)
            for w in sorted(rng.sample(known, COMMON_NAMES), key=rank.__getitem__)
        ]
        self.common_cum = _ranked_cum(COMMON_NAMES)
        planned: list[Planned] = []
        event = 0
        while len(planned) < size:
            start = START + timedelta(seconds=rng.uniform(0, DAYS * 86_400))
            for _ in range(min(rng.randint(*EVENT_SIZES), size - len(planned))):
                offset = min(rng.expovariate(4 / EVENT_SPREAD_HOURS), EVENT_SPREAD_HOURS)
                planned.append(Planned(start + timedelta(hours=offset), len(planned), event))
            event += 1
        self.events = event
        self.planned = sorted(planned, key=lambda p: (p.seen_at, p.number))

    def vocabulary(self, event: int) -> EventVocabulary:
        rng = random.Random(f"{self.seed}:event:{event}")
        people = tuple(Name(_made_up_name(rng), index == 0 or rng.random() < 0.6) for index in range(rng.randint(2, 6)))
        places = tuple(_made_up_name(rng) for _ in range(rng.randint(1, 2)))
        numbers = tuple(
            str(rng.randint(2, 999)) if rng.random() < 0.7 else f"{rng.uniform(1, 9):.1f}"
            for _ in range(rng.randint(1, 3))
        )
        topic = tuple(rng.sample(self.kinds[rng.randrange(KINDS)], rng.randint(3, 6)))
        common = tuple(dict.fromkeys(rng.choices(self.common, cum_weights=self.common_cum, k=rng.randint(0, 3))))
        return EventVocabulary(people, places, numbers, topic, common)

    def article(self, planned: Planned, vocabulary: EventVocabulary, cfg: EventConfig) -> Article:
        """One article's salient terms and people: counts per term, weighed and cut as salient_terms does."""
        rng = random.Random(f"{self.seed}:article:{planned.number}")
        counts: dict[str, float] = {}  # lowercase key -> weighted count, as salient_terms counts
        forms: dict[str, str] = {}  # lowercase key -> the form shown (a name keeps its case)
        people: dict[str, int] = {}  # lowercase person -> mentions

        def add(term: str, times: int, weight: float = 1.0) -> None:
            forms.setdefault(term.lower(), term)
            counts[term.lower()] = counts.get(term.lower(), 0.0) + times * weight

        def name(item: Name, times: int) -> None:
            add(item.term, times)
            if item.person:
                people[item.term.lower()] = people.get(item.term.lower(), 0) + times

        for index, item in enumerate(vocabulary.people):
            if index == 0:
                name(item, rng.randint(2, 8))  # the lead person: always named, usually most
            elif rng.random() < 0.65:
                name(item, rng.randint(1, 4))
        for place in vocabulary.places:
            if rng.random() < 0.75:
                add(place, rng.randint(1, 4), DOUBLE)
        for number in vocabulary.numbers:
            if rng.random() < 0.5:
                add(number, rng.randint(1, 2), DOUBLE)
        for word in vocabulary.topic:
            if rng.random() < 0.7:
                add(word, rng.randint(1, 4))
        for item in vocabulary.common:
            if rng.random() < 0.6:
                name(item, rng.randint(1, 3))
        for item in rng.choices(self.common, cum_weights=self.common_cum, k=rng.randint(0, 2)):  # in passing
            name(item, 1)
        for number in rng.sample(GENERIC_NUMBERS, rng.randint(0, 3)):
            add(number, rng.randint(1, 2), DOUBLE)
        for word in rng.choices(self.generic, cum_weights=self.generic_cum, k=rng.randint(*GENERIC_TOKENS)):
            add(word, 1)
        weighted = sorted(
            (
                ((1.0 + math.log(count) if count >= 1 else count) * rarity(key) ** 2, key)
                for key, count in counts.items()
            ),
            key=lambda item: (-item[0], item[1]),
        )
        kept = [(weight, key) for weight, key in weighted if weight > 0][: cfg.stored_terms]
        norm = math.sqrt(sum(weight * weight for weight, _ in kept)) or 1.0
        ranked = sorted(people.items(), key=lambda item: -item[1])[:2]
        principal = (
            ranked[0][0] if ranked and ranked[0][1] >= 2 and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]) else None
        )
        return Article(
            hashlib.sha256(f"{self.seed}:{planned.number}".encode()).hexdigest()[:16],
            planned.seen_at,
            planned.event,
            tuple(forms[key] for _, key in kept),
            tuple(round(weight / norm, 6) for weight, _ in kept),
            principal,
            tuple(sorted(people)),
        )

    def batches(self, batch_size: int, cfg: EventConfig) -> Iterator[list[Article]]:
        vocabularies: dict[int, EventVocabulary] = {}
        for start in range(0, len(self.planned), batch_size):
            batch = []
            for planned in self.planned[start : start + batch_size]:
                if planned.event not in vocabularies:
                    vocabularies[planned.event] = self.vocabulary(planned.event)
                batch.append(self.article(planned, vocabularies[planned.event], cfg))
            yield batch


class Timer:
    """CPU seconds of the wrapped functions and the lengths of the lists they returned, by name. A wrapped
    function called inside another counts for itself alone: the outer one's seconds leave its time out."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.sizes: dict[str, int] = defaultdict(int)
        self._inner: list[float] = []  # per open call: CPU seconds of the wrapped calls inside it

    def wrap(self, name: str, function: Callable[P, R]) -> Callable[P, R]:
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            tick = time.process_time()
            self._inner.append(0.0)
            try:
                result = function(*args, **kwargs)
            finally:
                spent, inner = time.process_time() - tick, self._inner.pop()
                self.seconds[name] += spent - inner
                if self._inner:
                    self._inner[-1] += spent
            if isinstance(result, list) and not self._inner:
                self.sizes[name] += len(result)
            return result

        return timed


def _support_rows(store: Store, articles: Sequence[Article], run_id: str) -> None:
    """What the inputs and stories steps leave for the events step: inputs and their outlets, signatures, each
    article its own story."""
    store.insert(
        "raw_documents",
        [
            {
                "raw_id": a.article_id,
                "source_id": _source_id(int(a.article_id, 16) % OUTLETS),
                "uri": f"https://example.org/{a.article_id}",
                "fetched_at": a.seen_at,
                "status": "loaded",
                "run_id": run_id,
            }
            for a in articles
        ],
    )
    store.insert(
        "article_signatures",
        [
            {
                "article_id": a.article_id,
                "raw_id": a.article_id,
                "seen_at": a.seen_at,
                "source_id": _source_id(int(a.article_id, 16) % OUTLETS),
                "url": f"https://example.org/{a.article_id}",
            }
            for a in articles
        ],
    )
    store.insert("article_stories", [{"article_id": a.article_id, "story_id": a.article_id} for a in articles])


def _source_id(outlet: int) -> str:
    return f"outlet-{outlet:02d}"


def _load_batch(store: Store, settings: Settings, articles: Sequence[Article], number: int) -> LoadBatch:
    changed: list[Row] = [
        {"article_id": a.article_id, "raw_id": a.article_id, "published_at": a.seen_at, "fetched_at": a.seen_at}
        for a in articles
    ]
    terms: list[Row] = [
        {
            "article_id": a.article_id,
            "raw_id": a.article_id,
            "terms": list(a.terms),
            "weights": list(a.weights),
            "specifics": sorted(
                {t.lower() for t in a.terms if t.isalpha() and rarity(t.lower()) >= settings.events.rare}
            ),
            "principal": a.principal,
            "people": list(a.people),
        }
        for a in articles
    ]
    now = datetime.now(UTC)
    return LoadBatch(
        store=store,
        settings=settings,
        manifest=Manifest(run_id=f"bench-{number:05d}", trigger="bench", started_at=now, source_uri="bench"),
        rows={"articles": changed, "article_terms": terms},
        validation=Validation.passed(len(articles)),
        stage_counts={},
        now=now,
        versions=VersionPlan(len(articles), 0, 0, [], changed, {}),
        story_of={a.article_id: a.article_id for a in articles},
        fresh_ids={a.article_id for a in articles},
    )


@dataclass(frozen=True, slots=True)
class BatchTiming:
    articles: int
    seconds: float  # load_events, CPU
    phases: dict[str, float]  # CPU seconds of the wrapped parts
    history: int  # history candidates the lookup returned


def _summary(part: Sequence[BatchTiming]) -> dict[str, Any]:
    """Articles per CPU second of a run of batches, CPU ms per article by phase, candidates per batch."""
    articles = sum(b.articles for b in part)
    seconds = sum(b.seconds for b in part)
    phases = {name: sum(b.phases[name] for b in part) for name in PHASES}
    return {
        "articles_per_cpu_s": round(articles / max(seconds, 1e-9)),
        "ms_per_article": {
            **{name: round(1000 * value / articles, 3) for name, value in phases.items()},
            "rest": round(1000 * (seconds - sum(phases.values())) / articles, 3),
        },
        "history_candidates_per_batch": round(sum(b.history for b in part) / len(part)),
    }


def run_size(size: int, batch_size: int, db_path: Path) -> dict[str, Any]:
    """Load `size` synthetic articles in batches through the events step; CPU seconds, counts, quality, peak RSS."""
    settings = Settings()
    cfg = settings.events
    timer = Timer()
    events_step.plan_cores = timer.wrap("plan", events_step.plan_cores)
    event_queries.candidates = timer.wrap("candidates", event_queries.candidates)
    event_queries.rebuild_events = timer.wrap("rebuild", event_queries.rebuild_events)
    events_step.lone_choices = timer.wrap("lone", events_step.lone_choices)
    tick = time.process_time()
    corpus = Corpus(size)
    generate = time.process_time() - tick
    gold: dict[str, str] = {}
    per_batch: list[BatchTiming] = []
    wall = 0.0
    with Store.open(db_path, SCHEMAS_DIR) as store:
        store.insert(
            "sources",
            [
                {
                    "source_id": _source_id(o),
                    "kind": "feed",
                    "uri": f"bench:{o}",
                    "name": f"Outlet {o}",
                    "created_at": START,
                }
                for o in range(OUTLETS)
            ],
        )
        batches = corpus.batches(batch_size, cfg)
        for number in itertools.count():
            tick = time.process_time()
            articles = next(batches, None)
            generate += time.process_time() - tick
            if articles is None:
                break
            gold.update((a.article_id, f"planted-{a.event}") for a in articles)
            with store.transaction():
                batch = _load_batch(store, settings, articles, number)
                _support_rows(store, articles, batch.run_id)
                before, history = dict(timer.seconds), timer.sizes["candidates"]
                wall_tick, tick = time.perf_counter(), time.process_time()
                events_step.load_events(batch)
                seconds = time.process_time() - tick
                wall += time.perf_counter() - wall_tick
            phases = {name: timer.seconds[name] - before.get(name, 0.0) for name in PHASES}
            per_batch.append(BatchTiming(len(articles), seconds, phases, timer.sizes["candidates"] - history))
            if (number + 1) % 10 == 0:
                done = sum(b.articles for b in per_batch)
                print(f"{done} articles, {sum(b.seconds for b in per_batch):.1f} events CPU s", file=sys.stderr)
        predicted = dict(store.con.execute("SELECT article_id, event_id FROM article_events").fetchall())
        found = store.con.execute("SELECT count(*), sum(article_count), max(article_count) FROM events").fetchone()
        assert found is not None
    events_found, articles_in_events, largest = found
    precision, recall, f1 = bcubed(predicted, gold)
    tenth = max(1, len(per_batch) // 10)
    overall = _summary(per_batch)
    return {
        "articles": size,
        "batch": batch_size,
        "events_cpu_s": round(sum(b.seconds for b in per_batch), 2),
        "events_wall_s": round(wall, 1),
        "articles_per_cpu_s": overall.pop("articles_per_cpu_s"),
        "first_tenth_articles_per_cpu_s": _summary(per_batch[:tenth])["articles_per_cpu_s"],
        "last_tenth_articles_per_cpu_s": _summary(per_batch[-tenth:])["articles_per_cpu_s"],
        **overall,
        "first_tenth": _summary(per_batch[:tenth]),
        "second_tenth": _summary(per_batch[tenth : 2 * tenth] or per_batch[-1:]),
        "last_tenth": _summary(per_batch[-tenth:]),
        "generate_cpu_s": round(generate, 1),
        "planted_events": corpus.events,
        "events_found": events_found,
        "largest_event": largest,
        "articles_in_events": int(articles_in_events),
        "bcubed_precision": round(precision, 4),
        "bcubed_recall": round(recall, 4),
        "bcubed_f1": round(f1, 4),
        "db_mb": round(db_path.stat().st_size / 2**20, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--out", type=Path, help="also write the results here as a JSON list")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_size(args.one, args.batch, Path(tmp) / "bench.duckdb")))
        return
    results = []
    for size in args.articles:
        child = [sys.executable, __file__, "--one", str(size), "--batch", str(args.batch)]
        results.append(json.loads(subprocess.run(child, stdout=subprocess.PIPE, text=True, check=True).stdout))
        print(json.dumps(results[-1]), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
