"""Quotations and their speakers, by rules over the spaCy parse the entity stage already made, with a small
learned second opinion on the quotations the rules leave.

The steps, each in its own module and small enough to test alone, put together by `extract`:
1. `marks`: quote marks paired in the raw text (`find_quote_spans`) and located among the tokens.
2. `regions`: the clause before and after each quotation, and what its form says (a name, a quoted clause).
3. `attribution`: whether a span is speech, its cue and the speaker phrase (`"…," Lavrov said.`), with the
   word-level helpers of `phrases`, the cue lexicon of `cues` and what a colon announces (`colons`).
4. `learned`: for a quotation no rule attributed, a logistic model over its form decides whether it is
   speech; it is kept for the person of the article who is the subject of its sentence, else for the
   subject of a clause a colon closes before it, else for the speaker attributed last in its paragraph.
5. `speakers`: the speaker phrase linked to an entity of the article, or left unresolved with low confidence.

Callers import from the submodules: `from pipelines.nlp.quotes.extract import extract_batch`.
"""
