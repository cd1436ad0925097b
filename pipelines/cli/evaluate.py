"""`newsflow eval`: score a stage against gold data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.options import JsonOption, ModelOption, misuse
from pipelines.config import Settings

eval_app = typer.Typer(help="Score a stage against gold data: precision, recall, F1.", no_args_is_help=True)


@eval_app.command("entities")
def eval_entities(
    gold: Annotated[Path, typer.Option("--gold", help="A CoNLL-U / CoNLL file or a folder of them.")],
    baseline: Annotated[
        bool,
        typer.Option("--baseline", help="Also score spaCy's own entity spans and print F1 per type side by side."),
    ] = False,
    model: ModelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Named entities per type (PERSON, ORG, LOC, MISC) against gold annotation."""
    from pipelines.evaluation.entities import compare_entities, evaluate_entities, format_comparison, format_table

    name = Settings.from_env(spacy_model=model).spacy_model
    if not baseline:
        scores = evaluate_entities(gold, name)
        print(json.dumps(scores.as_dict()) if as_json else format_table(scores))
        return
    scores, spacy = compare_entities(gold, name)
    both = {"stage": scores.as_dict(), "spacy": spacy.as_dict()}
    print(json.dumps(both) if as_json else format_comparison(scores, spacy))


@eval_app.command("quotes")
def eval_quotes(
    gold: Annotated[
        Path | None, typer.Option("--gold", help="JSONL gold quotes (seed, quote, speaker, required).")
    ] = None,
    not_quotes: Annotated[
        Path | None, typer.Option("--not-quotes", help="JSONL quoted strings that are not speech.")
    ] = None,
    texts: Annotated[
        Path | None,
        typer.Option(
            "--texts", help="Folder with the articles the gold names (default $NEWSFLOW_SEEDS_DIR or seeds/)."
        ),
    ] = None,
    polnear: Annotated[
        Path | None,
        typer.Option("--polnear", help="A PolNeAR-format folder (text/ + attributions.jsonl) instead of --gold."),
    ] = None,
    misses: Annotated[
        bool, typer.Option("--misses", help="With --polnear: list every miss, grouped by cause.")
    ] = False,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="With --polnear: a second PolNeAR-format folder (the train split beside dev), scored the same way "
            "and printed side by side with the spread.",
        ),
    ] = None,
    model: ModelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Quote precision/recall/F1 (80% overlap of the gold text) and speaker accuracy over matched quotes."""
    from pipelines.evaluation.quotes import evaluate_quotes, format_table

    settings = Settings.from_env(seeds_dir=texts, spacy_model=model)
    misused = [
        f"{name} goes only with {mode}"
        for name, given, mode, needed in (
            ("--misses", misses, "--polnear", polnear),
            ("--compare", compare, "--polnear", polnear),
            ("--not-quotes", not_quotes, "--gold", gold),
            ("--texts", texts, "--gold", gold),
        )
        if given and needed is None
    ]
    if (gold is None) == (polnear is None):
        misused = ["give exactly one of --gold FILE or --polnear DIR"]
    if misused:
        misuse("; ".join(misused))
    if polnear is not None:
        from pipelines.evaluation.polnear import comparison_json, evaluate_polnear, format_comparison, format_polnear

        found = evaluate_polnear(polnear, model=settings.spacy_model, alias_file=settings.alias_file)
        if compare is None:
            print(found.to_json() if as_json else format_polnear(found, misses=misses))
            return
        other = evaluate_polnear(compare, model=settings.spacy_model, alias_file=settings.alias_file)
        named = {polnear.name: found, compare.name: other}
        print(comparison_json(named) if as_json else format_comparison(named, misses=misses))
        return
    assert gold is not None  # exactly one of --gold and --polnear, checked above
    scores = evaluate_quotes(
        gold, not_quotes, settings.seeds_dir, model=settings.spacy_model, alias_file=settings.alias_file
    )
    print(scores.to_json() if as_json else format_table(scores))


@eval_app.command("events")
def eval_events(
    gold: Annotated[Path, typer.Option("--gold", help="JSON lines with doc, event and text (one article a line).")],
    batches: Annotated[
        int, typer.Option("--batches", min=1, help="Load the articles in this many runs, the file's last part first.")
    ] = 1,
    model: ModelOption = None,
    as_json: JsonOption = False,
) -> None:
    """Event grouping: B-cubed precision, recall and F1 of the events the pipeline assigns, against gold events."""
    from pipelines.evaluation.events import evaluate_events, format_scores

    scores = evaluate_events(gold, Settings.from_env(spacy_model=model), batches=batches)
    print(scores.to_json() if as_json else format_scores(scores))


@eval_app.command("dedup")
def eval_dedup(
    shared: Annotated[
        Path, typer.Option("--shared", help="The shared data folder with seeds/ and corpora/news-html/.")
    ],
    seed: Annotated[int, typer.Option("--seed", help="Random seed for the generated copies.")] = 0,
    sweep_thresholds: Annotated[bool, typer.Option("--sweep", help="Also print the configuration sweep.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Duplicate detection on labelled pairs built from real article text (copies, edits, and true negatives)."""
    from dataclasses import asdict

    from pipelines.evaluation.dedup import (
        eval_pairs,
        evaluate_dedup,
        format_scores,
        format_sweep,
        sweep,
    )

    pairs = eval_pairs(shared, seed=seed)
    scores = evaluate_dedup(Settings.from_env().dedup, pairs)  # what the load's stories step uses
    if as_json:
        print(json.dumps({"pairs": len(pairs), **asdict(scores)}))
        return
    print(f"{len(pairs)} labelled pairs\n{format_scores(scores)}")
    if sweep_thresholds:
        print(format_sweep(sweep(pairs)))
