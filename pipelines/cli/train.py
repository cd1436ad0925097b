"""`newsflow train`: rebuild a learned component from its training data (never run by `make run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.options import ModelOption
from pipelines.config import Settings

train_app = typer.Typer(help="Rebuild a learned component from its training split.", no_args_is_help=True)


@train_app.command("quotes")
def train_quotes(
    polnear: Annotated[
        Path, typer.Option("--polnear", help="A PolNeAR-format folder to learn from: the train split, never dev.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write the model (default: the one extraction reads).")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Probability of speech at which a quotation is kept.")
    ] = None,
    model: ModelOption = None,
) -> None:
    """The model that judges the quotations no rule attributes (pipelines/nlp/quotes/learned.py)."""
    from pipelines.evaluation.quote_training import DEFAULT_THRESHOLD, train
    from pipelines.nlp.quotes.learned import MODEL_FILE

    settings = Settings.from_env(spacy_model=model)
    target = out or MODEL_FILE
    spec = train(
        polnear,
        model=settings.spacy_model,
        alias_file=settings.alias_file,
        out=target,
        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
    )
    print(f"{target}: {len(spec['weights'])} weights from {spec['examples']} quotations ({spec['speech']} speech)")
