"""`python -m pipelines.cli`: the `newsflow` command."""

from pipelines.cli import main

main()
