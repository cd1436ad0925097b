"""A seed folder of the inputs that once failed a whole batch, built from the seeds' own news text.

Long texts (a transcript, a ruling: paragraphs of real news with their names and quotes, megabytes of them),
a one-line HTML page of megabytes, 20,000 nested <div>s, UTF-16 and Latin-1 texts, NUL bytes inside text,
and JSON nested 50,000 deep, beside the seeds. Used by the tests (small long texts) and by
`bench/bench_pathological.py` (the sizes the issue names).
"""

from __future__ import annotations

import html
import random
import shutil
from pathlib import Path

NESTED_DIVS = 20_000
JSON_DEPTH = 50_000


def news_paragraphs(seeds: Path, which: slice = slice(None)) -> list[str]:
    """The paragraphs (titles, bodies, quotes) of the seeds' texts `which` (all by default), in file order."""
    return [
        paragraph.strip()
        for path in sorted(seeds.glob("*.txt"))[which]
        for paragraph in path.read_text(encoding="utf-8").split("\n\n")
        if paragraph.strip()
    ]


def long_text(paragraphs: list[str], size: int, heading: str) -> str:
    """About `size` characters of news paragraphs, each numbered as a transcript's turns are, so no two are equal."""
    lines, length, turn = [heading], len(heading), 0
    while length < size:
        line = f"[{turn + 1}] {paragraphs[turn % len(paragraphs)]}"
        lines.append(line)
        length += len(line) + 2
        turn += 1
    return "\n\n".join(lines) + "\n"


def distinct_text(paragraphs: list[str], size: int, heading: str, seed: int = 0) -> str:
    """About `size` characters of the paragraphs' words in a seeded random order, one paragraph per source
    paragraph: like a long ruling, almost every run of five words is new (a repeated transcript's are not),
    which is what the MinHash signature's and the vocabulary's memory grow with."""
    rng = random.Random(seed)
    lines, length, turn = [heading], len(heading), 0
    while length < size:
        words = paragraphs[turn % len(paragraphs)].split()
        rng.shuffle(words)
        lines.append(" ".join(words))
        length += len(lines[-1]) + 2
        turn += 1
    return "\n\n".join(lines) + "\n"


def write_folder(folder: Path, seeds: Path, long_sizes: tuple[int, ...], one_line_html_size: int) -> dict[str, str]:
    """Write the seeds and the pathological files into `folder`; returns each added file's name and what it is."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(seeds.iterdir()):
        shutil.copyfile(path, folder / path.name)
    seed_text = "\n\n".join(news_paragraphs(seeds)[:12])
    added = {}
    for number, size in enumerate(long_sizes):
        # Each long text of other seeds than the next (the live blog: the first seed's), so none is another's copy.
        paragraphs = news_paragraphs(
            seeds, slice(1, None) if len(long_sizes) == 1 else slice(1 + 2 * number, 3 + 2 * number)
        )
        name = f"transcript_{size // 1000}k.txt"
        (folder / name).write_text(
            long_text(paragraphs, size, f"Hearing transcript, {size:,} characters"), encoding="utf-8"
        )
        added[name] = "a long text"
    # The first seed's paragraphs only: a story of its own, not a copy of the transcripts (which hold every seed).
    first = news_paragraphs(seeds, slice(0, 1))
    body = "".join(
        f"<p>{html.escape(paragraph)}</p>"
        for paragraph in long_text(first, one_line_html_size, "Live blog").split("\n\n")
    )
    (folder / "live_blog_one_line.html").write_text(
        "<!DOCTYPE html><html><head><title>Live blog</title></head><body><article><h1>Live blog</h1>"
        f"{body}</article></body></html>",
        encoding="utf-8",
    )
    added["live_blog_one_line.html"] = "a one-line HTML page"
    nested = "".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs[:6])
    (folder / "nested_divs.html").write_text(
        "<html><head><title>Nested</title></head><body>"
        f"{'<div>' * NESTED_DIVS}{nested}{'</div>' * NESTED_DIVS}</body></html>",
        encoding="utf-8",
    )
    added["nested_divs.html"] = f"{NESTED_DIVS:,} nested <div>s"
    (folder / "utf16_with_bom.txt").write_bytes(seed_text.encode("utf-16"))
    added["utf16_with_bom.txt"] = "UTF-16 with a BOM"
    latin = "Café au lait in Besançon, said the mayor.\n\n" + seed_text
    (folder / "latin1.txt").write_bytes(latin.encode("latin-1", errors="replace"))
    added["latin1.txt"] = "Latin-1"
    (folder / "nul_inside.txt").write_text(seed_text.replace(". ", ".\x00 ", 3), encoding="utf-8")
    added["nul_inside.txt"] = "NUL bytes inside text"
    (folder / "deep.json").write_text("[" * JSON_DEPTH + "]" * JSON_DEPTH, encoding="utf-8")
    added["deep.json"] = f"JSON nested {JSON_DEPTH:,} deep"
    return added
