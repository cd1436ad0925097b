"""Added cost of quote extraction on top of the parse the entity stage already made (a benchmark, not a test).

    python bench/bench_quotes.py [--folder DIR ...] [--repeats 5]

Each article is parsed once and its entities resolved once, as in the pipeline; then `extract_quotes`
runs `--repeats` times over every parse. The report compares its time per article with the parse's.
Default corpus: seeds/ and the hand-written quote fixtures; `--folder ../shared/corpora/polnear-dev/text`
measures longer political news (issue 14: extraction must stay under 10 % of the parse).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipelines.config import PROJECT_ROOT, Settings
from pipelines.nlp.entities import load_alias_rules, resolve
from pipelines.nlp.mentions import link_article
from pipelines.nlp.model import load_pipeline, parse
from pipelines.nlp.quotes.extract import extract_quotes
from pipelines.records import ArticleText

DEFAULT_FOLDERS = (PROJECT_ROOT / "seeds", PROJECT_ROOT / "tests" / "nlp" / "fixtures" / "quotes")


def read_articles(folders: list[Path]) -> list[ArticleText]:
    return [
        ArticleText(article_id=path.name, body_text=path.read_text(encoding="utf-8"), language="en")
        for folder in folders
        for path in sorted(folder.glob("*.txt"))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, action="append", help="folder of .txt articles (repeatable)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    articles = read_articles(args.folder or list(DEFAULT_FOLDERS))
    settings = Settings.from_env()
    nlp = load_pipeline(settings.spacy_model)
    rules = load_alias_rules(settings.alias_file)

    start = time.perf_counter()
    parsed = list(parse(nlp, articles))
    parse_s = time.perf_counter() - start

    start = time.perf_counter()
    linked = [(item, resolve([link_article(item)], rules=rules)) for item in parsed if item.doc is not None]
    entity_s = time.perf_counter() - start
    inputs = [
        (item.doc, item.article, batch.mentions, {e.entity_id: e for e in batch.entities})
        for item, batch in linked
        if item.doc is not None  # always true (`linked` keeps parsed articles only), repeated for the type checker
    ]

    start = time.perf_counter()
    for _ in range(args.repeats):
        quotes = [
            q for doc, article, mentions, entities in inputs for q in extract_quotes(doc, article, mentions, entities)
        ]
    quote_s = (time.perf_counter() - start) / args.repeats

    n = len(inputs)
    chars = sum(len(article.body_text) for _, article, _, _ in inputs)
    print(f"articles {n}, {chars / n:.0f} chars/article on average, {len(quotes)} quotes")
    for label, seconds in (("spaCy parse (once)", parse_s), ("entity stage", entity_s), ("quote extraction", quote_s)):
        print(f"{label:<22}{1000 * seconds / n:>8.2f} ms/article {n / seconds:>10.1f} articles/s")
    print(f"{'quotes / parse':<22}{100 * quote_s / parse_s:>8.1f} %")


if __name__ == "__main__":
    main()
