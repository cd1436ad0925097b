"""Entity stage throughput: articles/second for spaCy parsing alone and with linking + resolution.

The corpus is synthetic but made of real news text: each article is a random draw (fixed seed) of
paragraphs from the seed articles and, when ../shared is present, the GUM Wikinews documents.
Parsing, linking and resolution are timed in the same pass over the same Docs, in wall and CPU time,
so the resolution overhead is not blurred by parse-time noise on a busy machine.

    .venv/bin/python bench/bench_entities.py --articles 2000
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time
from pathlib import Path

from pipelines.config import Settings
from pipelines.evaluation.entities import read_gold
from pipelines.nlp.entities import load_alias_rules, resolve
from pipelines.nlp.mentions import link_article
from pipelines.nlp.model import DEFAULT_BATCH_SIZE, load_pipeline, parse
from pipelines.records import ArticleText

ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = ROOT / "seeds"
GUM_DIR = ROOT.parent / "shared" / "corpora" / "gum-news"
PARAGRAPHS_PER_ARTICLE = (3, 8)
RANDOM_SEED = 20161215
# The budget: resolution may add at most this share to NER time.
MAX_OVERHEAD = 0.20


def source_paragraphs() -> list[str]:
    """Non-trivial paragraphs of the seeds and, when available, of the GUM news documents."""
    texts = [path.read_text(encoding="utf-8") for path in sorted(SEEDS_DIR.glob("*.txt"))]
    if GUM_DIR.is_dir():
        texts += [document.text for document in read_gold(GUM_DIR)]
    return [p.strip() for text in texts for p in text.replace("\r", "").split("\n\n") if len(p.split()) >= 5]


def synthetic_articles(count: int, paragraphs: list[str]) -> list[ArticleText]:
    rng = random.Random(RANDOM_SEED)
    return [
        ArticleText(f"bench-{index}", "\n\n".join(rng.sample(paragraphs, rng.randint(*PARAGRAPHS_PER_ARTICLE))), "en")
        for index in range(count)
    ]


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(count: int, batch_size: int) -> None:
    settings = Settings.from_env()
    nlp = load_pipeline(settings.spacy_model)
    rules = load_alias_rules(settings.alias_file)
    articles = synthetic_articles(count, source_paragraphs())
    chars = sum(len(a.body_text) for a in articles)
    parse_wall = parse_cpu = link_wall = link_cpu = 0.0
    linked = []
    wall, cpu = time.perf_counter(), time.process_time()
    for parsed in parse(nlp, articles, batch_size):
        parsed_wall, parsed_cpu = time.perf_counter(), time.process_time()
        parse_wall, parse_cpu = parse_wall + parsed_wall - wall, parse_cpu + parsed_cpu - cpu
        linked.append(link_article(parsed))
        wall, cpu = time.perf_counter(), time.process_time()
        link_wall, link_cpu = link_wall + wall - parsed_wall, link_cpu + cpu - parsed_cpu
    batch = resolve(linked, rules=rules)
    resolve_wall, resolve_cpu = time.perf_counter() - wall, time.process_time() - cpu
    total_wall = parse_wall + link_wall + resolve_wall
    print(f"model {nlp.meta['name']} {nlp.meta['version']}, components {nlp.pipe_names}")
    print(f"{count} articles, {chars / count:.0f} chars/article, batch size {batch_size}")
    print(
        f"NER alone (nlp.pipe)      {count / parse_wall:8.1f} articles/s wall, {count / parse_cpu:8.1f} per CPU-second"
    )
    print(
        f"with linking + resolution {count / total_wall:8.1f} articles/s wall, "
        f"{count / (parse_cpu + link_cpu + resolve_cpu):8.1f} per CPU-second"
    )
    print(f"  linking {link_wall:.2f} s, cross-article resolution {resolve_wall:.2f} s (wall)")
    overhead = (link_cpu + resolve_cpu) / parse_cpu
    print(f"resolution overhead {overhead:.1%} of NER CPU time (budget {MAX_OVERHEAD:.0%})")
    print(f"{len(batch.entities)} entities, {len(batch.mentions)} mentions, peak RSS {peak_rss_mib():.0f} MiB")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall rates fall on a shared machine)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    args = parser.parse_args()
    run(args.articles, args.batch_size)


if __name__ == "__main__":
    main()
