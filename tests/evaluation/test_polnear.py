"""The PolNeAR scorer: gold segments, recall/precision/speaker rules and miss causes on hand-made folders,
then the figures the pipeline reaches on the real polnear-dev split (../shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import Settings
from pipelines.evaluation.polnear import (
    EXTRA,
    NOT_ATTRIBUTED,
    WRONG_SPEAKER,
    Tokens,
    _Tally,
    evaluate_polnear,
    format_polnear,
    gold_segments,
    score_article,
)
from pipelines.records import Quote

SETTINGS = Settings.from_env()
OPTIONS: dict[str, Any] = {"model": SETTINGS.spacy_model, "alias_file": SETTINGS.alias_file}

TEXT = (
    'Mayor Ann Reed said: "We will rebuild every bridge in this city." Critics were unconvinced.\n\n'
    '"Nothing has been done for years," said Tom Bell, a local activist. He called the plan "too little".\n\n'
    '"It will take a decade," he added. The report found that "costs rose by a third" in two years.\n'
)


def content(text: str, fragment: str, source: str) -> dict:
    """One attribution row whose content is `fragment`, located in `text`."""
    start = text.index(fragment)
    return {"source": source, "content": fragment, "content_segments": [[start, start + len(fragment)]]}


ROWS = [
    content(TEXT, '"We will rebuild every bridge in this city."', "Mayor Ann Reed"),
    content(TEXT, '"Nothing has been done for years,"', "Tom Bell, a local activist"),
    content(TEXT, '"too little"', "He"),  # two words: not a gold segment
    content(TEXT, '"It will take a decade,"', "he"),  # a pronoun source: not scored for speaker
    content(TEXT, 'that "costs rose by a third" in two years', "The report"),
    content(TEXT, "Nothing has been done", "Tom Bell"),  # no mark inside: delimits nothing
]


def quote_in(text: str, fragment: str, speaker: str = "she") -> Quote:
    start = text.index(fragment)
    return Quote(
        "q", "a", fragment, start, start + len(fragment), speaker, None, None, None, "said", "direct", 0.9, "t"
    )


def quote(fragment: str, speaker: str) -> Quote:
    return quote_in(TEXT, fragment, speaker)


def test_gold_segments_are_marked_quotes_of_three_words_inside_a_content() -> None:
    segments = gold_segments(TEXT, ROWS, Tokens(TEXT))
    assert [(TEXT[s.start : s.end], s.source) for s in segments] == [
        ("We will rebuild every bridge in this city.", "Mayor Ann Reed"),
        ("Nothing has been done for years,", "Tom Bell, a local activist"),
        ("It will take a decade,", "he"),
        ("costs rose by a third", "The report"),
    ]


def test_a_quotation_cut_over_two_contents_delimits_nothing() -> None:
    text = '"One sentence here. Another sentence there," she said.'
    rows = [content(text, '"One sentence here.', "she"), content(text, 'Another sentence there,"', "she")]
    assert gold_segments(text, rows, Tokens(text)) == []


def test_a_quotation_whose_words_lie_in_a_content_counts_with_its_marks_outside() -> None:
    text = 'Ms. Cole said "the fund is nearly empty" on Friday.'
    rows = [content(text, "the fund is nearly empty", "Ms. Cole")]
    assert [(text[s.start : s.end], s.source) for s in gold_segments(text, rows, Tokens(text))] == [
        ("the fund is nearly empty", "Ms. Cole")
    ]


def test_precision_takes_one_attributions_content_segments_together() -> None:
    text = '"We are close," she said, "to a deal on wages." Talks resume today.'
    parts = [(text.index(part), text.index(part) + len(part)) for part in ("We are close,", "to a deal on wages.")]
    split = {"source": "she", "content_segments": [list(part) for part in parts]}
    apart = [{**split, "content_segments": [segment]} for segment in split["content_segments"]]
    spanning = quote_in(text, 'We are close," she said, "to a deal on wages.')  # 10 tokens, 8 in contents
    for rows, right in (([split], 1), (apart, 0)):
        tally = _Tally()
        score_article("a", text, rows, [spanning], {}, tally)
        assert (tally.extracted, tally.right) == (1, right)


def test_recall_precision_and_speaker_follow_the_readme_rules() -> None:
    tally = _Tally()
    predicted = [
        quote("We will rebuild every bridge in this city.", "Reed"),  # found, speaker shares "reed"
        quote('Nothing has been done for years," said Tom Bell', "Critics"),  # found (6 of its 9 tokens), but
        # wrong speaker, and wrong for precision: 6 of 9 tokens inside a content is under 80 %
        quote("It will take a decade,", "he"),  # found, pronoun gold: not scored
        quote("Critics were unconvinced", "Reed"),  # 3 words outside every content: wrong
        quote("a local", "Bell"),  # fewer than 3 words: not counted for precision
    ]
    score_article("a", TEXT, ROWS, predicted, {}, tally)
    assert (tally.gold, tally.found, tally.extracted, tally.right) == (4, 3, 4, 2)
    assert (tally.speaker_scored, tally.speaker_agreeing) == (2, 1)
    assert sorted(m.cause for m in tally.misses) == sorted([NOT_ATTRIBUTED, WRONG_SPEAKER, EXTRA, EXTRA])


def test_an_extracted_quote_twice_the_gold_does_not_find_it() -> None:
    tally = _Tally()
    score_article(
        "a", TEXT, ROWS[:1], [quote('We will rebuild every bridge in this city." Critics were', "Reed")], {}, tally
    )
    assert tally.found == 1  # 8 of 10 tokens lie in the gold
    tally = _Tally()
    wide = quote(
        'Mayor Ann Reed said: "We will rebuild every bridge in this city." Critics were unconvinced.\n\n'
        '"Nothing has been done',
        "Reed",
    )
    score_article("a", TEXT, ROWS[:1], [wide], {}, tally)
    assert tally.found == 0  # 8 of 19: less than half of the quote is the gold


def polnear_folder(root: Path) -> Path:
    """A one-article PolNeAR-format folder made of TEXT and ROWS."""
    (root / "text").mkdir(parents=True)
    (root / "text" / "a.txt").write_text(TEXT, encoding="utf-8")
    rows = [{"article": "a", **row} for row in ROWS]
    (root / "attributions.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return root


def test_the_pipeline_on_a_small_polnear_folder(tmp_path: Path) -> None:
    scores = evaluate_polnear(polnear_folder(tmp_path), **OPTIONS)
    assert (scores.gold_segments, scores.found, scores.extracted, scores.extracted_right) == (4, 4, 4, 4)
    assert (scores.speaker_scored, scores.speaker_agreeing) == (3, 3)
    assert "recall               1.000  (4 of 4 gold quoted segments)" in format_polnear(scores, misses=True)


NEWSFLOW = [sys.executable, "-m", "pipelines.cli"]


def test_the_cli_scores_a_polnear_folder_and_wants_one_gold(tmp_path: Path) -> None:
    folder = str(polnear_folder(tmp_path))
    shown = subprocess.run(
        [*NEWSFLOW, "eval", "quotes", "--polnear", folder, "--json"], capture_output=True, text=True, timeout=600
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["found"] == 4
    both = subprocess.run(
        [*NEWSFLOW, "eval", "quotes", "--polnear", folder, "--gold", folder],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert both.returncode == 2 and "exactly one of --gold FILE or --polnear DIR" in both.stderr
    for wrong in (["--polnear", folder, "--texts", folder], ["--gold", folder, "--misses"]):
        misused = subprocess.run([*NEWSFLOW, "eval", "quotes", *wrong], capture_output=True, text=True, timeout=600)
        assert misused.returncode == 2 and f"{wrong[2]} goes only with" in misused.stderr, misused.stderr


# The issue's goals on polnear-dev (`newsflow eval quotes --polnear ../shared/corpora/polnear-dev`, README:
# 0.952 / 0.992 / 0.952): a quote lost anywhere fails this test.
POLNEAR_FLOORS = {"recall": 0.95, "precision": 0.97, "speaker": 0.95}


@pytest.mark.slow
def test_polnear_dev_meets_the_issue_goals(shared_dir: Path) -> None:
    scores = evaluate_polnear(shared_dir / "corpora" / "polnear-dev", **OPTIONS)
    assert scores.articles == 84 and scores.gold_segments == 651
    reached = {"recall": scores.recall, "precision": scores.precision, "speaker": scores.speaker}
    assert all(reached[name] >= floor for name, floor in POLNEAR_FLOORS.items()), format_polnear(scores, misses=True)


def test_compare_prints_two_folders_side_by_side_with_the_spread(tmp_path: Path) -> None:
    dev = polnear_folder(tmp_path / "polnear-dev")
    train = polnear_folder(tmp_path / "polnear-train")
    rows = [json.loads(line) for line in (train / "attributions.jsonl").read_text(encoding="utf-8").splitlines()]
    kept = [r for r in rows if "We will rebuild" not in r["content"]]  # train's gold lacks one attribution
    (train / "attributions.jsonl").write_text("\n".join(json.dumps(r) for r in kept), encoding="utf-8")
    args = [*NEWSFLOW, "eval", "quotes", "--polnear", str(dev), "--compare", str(train)]
    shown = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["polnear-dev", "polnear-train", "spread"]
    assert lines[lines.index(next(x for x in lines if x.startswith("gold segments")))].split()[-2:] == ["4", "3"]
    precision = next(x for x in lines if x.startswith("precision")).split()
    assert precision[1:] == ["1.000", "0.750", "+0.250"]  # the quote train's gold lacks counts against it there
    as_json = json.loads(subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=600).stdout)
    assert set(as_json["folders"]) == {"polnear-dev", "polnear-train"} and as_json["spread"]["precision"] == 0.25
    misused = subprocess.run(
        [*NEWSFLOW, "eval", "quotes", "--gold", str(dev), "--compare", str(train)], capture_output=True, text=True
    )
    assert misused.returncode == 2 and "--compare goes only with --polnear" in misused.stderr
