"""Rebuilding the quote model: examples are the quotations the rules leave, with extraction's own features,
labelled by the scorer's precision rule; the same folder rebuilds the same file; `newsflow train quotes` writes it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipelines.config import Settings
from pipelines.evaluation.quote_training import fit, training_examples

SETTINGS = Settings.from_env()
OPTIONS: dict[str, Any] = {"model": SETTINGS.spacy_model, "alias_file": SETTINGS.alias_file}

ARTICLES = {
    "ryan": (
        "Paul Ryan spoke in Janesville on Monday. Ryan worried that the safety net was becoming "
        '"a hammock that lulls able-bodied people to lives of dependency." Outside, protesters carried signs '
        'reading "no more cuts to our schools" all afternoon.\n'
    ),
    "bell": (
        '"We will rebuild every bridge in this city," Mayor Ann Reed said. Tom Bell thought the plan was '
        '"far too little and far too late for the river towns." The council had called the budget a '
        '"once in a generation chance to fix the roads".\n'
    ),
}
SPEECH = {"ryan": "a hammock that lulls", "bell": "far too little"}  # the annotated contents


def polnear_folder(root: Path) -> Path:
    (root / "text").mkdir(parents=True)
    rows = []
    for name, text in ARTICLES.items():
        (root / "text" / f"{name}.txt").write_text(text, encoding="utf-8")
        start = text.index(SPEECH[name])
        end = text.index('"', start)
        rows.append({"article": name, "source": "x", "content": text[start:end], "content_segments": [[start, end]]})
    (root / "attributions.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return root


def test_examples_are_the_quotations_the_rules_leave_labelled_by_content(tmp_path: Path) -> None:
    examples = training_examples(polnear_folder(tmp_path), **OPTIONS)
    labelled = {(e.article, ARTICLES[e.article][e.start : e.end][:14]): e.speech for e in examples}
    assert labelled[("ryan", "a hammock that")] is True
    assert labelled[("ryan", "no more cuts t")] is False
    assert labelled[("bell", "far too little")] is True
    # the quote the rules attribute ("…," Mayor Ann Reed said) is no example
    assert not any(ARTICLES[e.article][e.start :].startswith("We will") for e in examples)
    assert all(any(f.startswith("qwords=") for f in e.features) for e in examples)


def test_the_same_examples_fit_the_same_weights(tmp_path: Path) -> None:
    examples = training_examples(polnear_folder(tmp_path), **OPTIONS)
    first, again = fit(examples), fit(list(reversed(examples)))
    assert first == again
    assert first["examples"] == len(examples) and 0 < first["speech"] < len(examples)


def test_the_cli_writes_a_model_extraction_can_read(tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    folder = str(polnear_folder(tmp_path / "polnear"))
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "train", "quotes", "--polnear", folder, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert f"{out}:" in done.stdout and "speech" in done.stdout

    from pipelines.nlp.quotes.learned import quote_model

    model = quote_model(out)
    assert model.threshold == 0.7 and model.weights
