"""Quotations and their speakers, by rules over the spaCy parse the entity stage already made.

Three steps, each in its own module and small enough to test alone, put together by `extract`:
1. `marks`: quote marks paired in the raw text (`find_quote_spans`) and located among the tokens.
2. `attribution`: whether a span is speech, its cue and the speaker phrase (`"…," Lavrov said.`).
3. `speakers`: the speaker phrase linked to an entity of the article, or left unresolved with low confidence.

Callers import from the submodules: `from pipelines.nlp.quotes.extract import extract_batch`.
"""
