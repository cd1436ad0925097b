"""The README's accuracy tables are what its two commands print today: a change that moves a figure must
update the README with it (and a figure nobody can reproduce cannot stay there)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.config import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
QUOTES_COMMAND = (
    ".venv/bin/newsflow eval quotes --polnear ../shared/corpora/polnear-dev --compare ../shared/corpora/polnear-train"
)
ENTITIES_COMMAND = ".venv/bin/newsflow eval entities --gold ../shared/corpora/gum-news --baseline"


def table_row(label: str) -> list[str]:
    """The cells after the first of the README's table row that starts with `label`."""
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == label:
            return cells[1:]
    raise AssertionError(f"README has no table row {label!r}")


def run_json(command: str, shared: Path) -> dict:
    """The README's command, with `../shared` where the corpora are here, as JSON."""
    assert command in README.read_text(encoding="utf-8"), "the README no longer shows this command"
    argv = [part.replace("../shared", str(shared)) for part in shlex.split(command)[1:]]
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *argv, "--json"], capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_the_quote_figures_are_what_the_comparison_prints(shared_dir: Path) -> None:
    shown = run_json(QUOTES_COMMAND, shared_dir)
    dev, train = shown["folders"]["polnear-dev"], shown["folders"]["polnear-train"]
    for rate in ("recall", "precision", "speaker"):
        expected = [f"{dev[rate]:.3f}", f"{train[rate]:.3f}", f"{shown['spread'][rate]:+.3f}"]
        assert table_row(rate) == expected, rate
    # the bar on both splits, and dev within 0.02 of train where it is met
    assert dev["precision"] >= 0.97 and train["precision"] >= 0.97


@pytest.mark.slow
def test_the_entity_figures_are_what_the_baseline_comparison_prints(shared_dir: Path) -> None:
    shown = run_json(ENTITIES_COMMAND, shared_dir)
    for label, key in (("newsflow", "stage"), ("spaCy alone", "spacy")):
        scores = shown[key]
        expected = [f"{scores['per_type'][t]['f1']:.3f}" for t in ("PERSON", "ORG", "LOC", "MISC")]
        assert table_row(label) == [*expected, f"{scores['overall']['f1']:.3f}"], label
    assert shown["stage"]["overall"]["f1"] >= shown["spacy"]["overall"]["f1"] + 0.03


EVENTS_COMMAND = ".venv/bin/newsflow eval events --gold ../shared/corpora/ecbplus-events-dev/docs.jsonl"


@pytest.mark.slow
def test_the_event_figures_are_what_the_evaluation_prints_in_one_batch_or_two(shared_dir: Path) -> None:
    shown = run_json(EVENTS_COMMAND, shared_dir)
    expected = [f"{shown[rate]:.3f}" for rate in ("precision", "recall", "f1")]
    assert table_row("newsflow events") == expected
    assert shown["articles"] == 520 and shown["gold_events"] == 46
    in_two = run_json(EVENTS_COMMAND + " --batches 2", shared_dir)
    assert {key: value for key, value in in_two.items() if key != "batches"} == {
        key: value for key, value in shown.items() if key != "batches"
    }, "the second half of the file first, in its own run, groups the same"
