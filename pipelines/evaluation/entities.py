"""Score the entity stage against gold named entities: precision, recall and F1 per type.

Two gold formats are read:

* CoNLL-U with GUM entity annotation in MISC (`Entity=(3-person-...`). GUM marks every mention,
  named or not, as a full noun phrase ("US President Donald Trump"); a mention counts as a *named*
  entity when its syntactic head is a proper noun, and a prediction matches it when it lies inside the
  phrase and covers the head (so "Donald Trump" matches, as would "President Donald Trump").
* CoNLL-style BIO tags: the last column of a whitespace-separated file (CoNLL-2003), or `NER=`/`NE=`
  in a CoNLL-U MISC column. Spans there are names already; a prediction must match exactly.

Both sides are mapped to the coarse types PERSON, ORG, LOC and MISC that all these schemes share.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import conllu

from pipelines.nlp.entities import resolve
from pipelines.nlp.mentions import link_article
from pipelines.nlp.model import load_pipeline, parse
from pipelines.records import ArticleText

EVAL_TYPES = ("PERSON", "ORG", "LOC", "MISC")
# spaCy labels -> coarse types; labels absent here (dates, numbers) are not scored.
SPACY_TO_EVAL = {
    "PERSON": "PERSON",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}
# GUM entity types -> coarse types; "time" is a date, not a named entity, and is not scored.
GUM_TO_EVAL = {
    "person": "PERSON",
    "organization": "ORG",
    "place": "LOC",
    "event": "MISC",
    "object": "MISC",
    "abstract": "MISC",
    "substance": "MISC",
    "animal": "MISC",
    "plant": "MISC",
}
# CoNLL-2003 and OntoNotes BIO type names -> coarse types.
BIO_TO_EVAL = {"PER": "PERSON", "LOC": "LOC", "ORG": "ORG", "MISC": "MISC", **SPACY_TO_EVAL}
PROPER_NOUN = "PROPN"
PARAGRAPH_BREAK = "\n\n"
DOCSTART = "-DOCSTART-"
GOLD_SUFFIXES = frozenset({".conllu", ".conll"})
GUM_BRACKET_RE = re.compile(r"\((\d+)-([a-z]+)[^()]*(\))?|(\d+)\)")
BIO_MISC_KEYS = ("NER", "NE")


@dataclass(frozen=True, slots=True)
class GoldSpan:
    """A gold entity as character offsets in its document; `head` is set when the span is a full noun phrase."""

    doc_id: str
    start: int
    end: int
    type: str
    head: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class GoldDocument:
    doc_id: str
    text: str
    spans: tuple[GoldSpan, ...]


@dataclass(frozen=True, slots=True)
class TypeScore:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 0.0

    @property
    def recall(self) -> float:
        gold = self.true_positives + self.false_negatives
        return self.true_positives / gold if gold else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass(frozen=True, slots=True)
class EntityScores:
    """Scores per coarse type and over all types (micro-averaged)."""

    model: str
    documents: int
    per_type: dict[str, TypeScore]
    overall: TypeScore

    def as_dict(self) -> dict[str, object]:
        """Machine-readable form for `--json`: counts and the derived precision, recall and F1."""

        def row(score: TypeScore) -> dict[str, float | int]:
            return {**asdict(score), "precision": score.precision, "recall": score.recall, "f1": score.f1}

        return {
            "model": self.model,
            "documents": self.documents,
            "per_type": {name: row(score) for name, score in self.per_type.items()},
            "overall": row(self.overall),
        }


# --- reading gold --------------------------------------------------------------------------------------


def gold_files(path: Path) -> list[Path]:
    """The gold file itself, or every .conllu and .conll file of a folder, sorted."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix in GOLD_SUFFIXES)


def read_gold(path: Path) -> list[GoldDocument]:
    documents: list[GoldDocument] = []
    for file in gold_files(path):
        text = file.read_text(encoding="utf-8")
        reader = read_conllu if file.suffix == ".conllu" else read_conll_columns
        documents.extend(reader(text, file.stem))
    return documents


@dataclass
class DocumentBuilder:
    """Accumulates tokens into text with their character offsets, paragraph by paragraph."""

    doc_id: str
    text: str = ""
    pending_space: bool = False

    def add_token(self, form: str, space_after: bool) -> tuple[int, int]:
        if self.pending_space:
            self.text += " "
        start = len(self.text)
        self.text += form
        self.pending_space = space_after
        return start, len(self.text)

    def new_paragraph(self) -> None:
        if self.text:
            self.text += PARAGRAPH_BREAK
        self.pending_space = False


def read_conllu(text: str, default_id: str) -> Iterator[GoldDocument]:
    """Documents of a CoNLL-U file; `# newdoc` starts a document and `# newpar` a paragraph."""
    builder = DocumentBuilder(default_id)
    spans: list[GoldSpan] = []
    for sentence in conllu.parse(text):
        new_doc = sentence.metadata.get("newdoc id")
        if new_doc and builder.text:
            yield GoldDocument(builder.doc_id, builder.text, tuple(spans))
            builder, spans = DocumentBuilder(new_doc), []
        elif new_doc:
            builder.doc_id = new_doc
        if "newpar" in sentence.metadata or new_doc:
            builder.new_paragraph()
        spans.extend(sentence_spans(sentence, builder))
    if builder.text:
        yield GoldDocument(builder.doc_id, builder.text, tuple(spans))


def sentence_spans(sentence: conllu.TokenList, builder: DocumentBuilder) -> list[GoldSpan]:
    """Add one sentence's words to the document and return its gold entities (GUM brackets or BIO tags).

    A GUM mention running across sentences (rare) is not scored: its head cannot be found in one sentence.
    """
    open_mentions: dict[str, list[tuple[str, int]]] = defaultdict(list)
    words = [token for token in sentence if isinstance(token["id"], int)]
    offsets = {}
    for token in words:
        misc = token["misc"] or {}
        offsets[token["id"]] = builder.add_token(token["form"], misc.get("SpaceAfter") != "No")
    spans: list[GoldSpan] = []
    bio_tags = []
    for token in words:
        misc = token["misc"] or {}
        bio_tags.append(next((misc[key] for key in BIO_MISC_KEYS if key in misc), "O"))
        for match in GUM_BRACKET_RE.finditer(misc.get("Entity", "")):
            opened, gum_type, closed_now, closing = match.groups()
            if opened:
                open_mentions[opened].append((gum_type, token["id"]))
            if (closed_now or closing) and open_mentions[opened or closing]:
                gum_type, first = open_mentions[opened or closing].pop()
                span = gum_span(words, offsets, first, token["id"], gum_type, builder.doc_id)
                if span is not None:
                    spans.append(span)
    if any(tag != "O" for tag in bio_tags):
        spans.extend(bio_spans(builder.doc_id, bio_tags, [offsets[token["id"]] for token in words]))
    return spans


def gum_span(
    words: list[conllu.Token], offsets: dict[int, tuple[int, int]], first: int, last: int, gum_type: str, doc_id: str
) -> GoldSpan | None:
    """A GUM mention as gold when it is named (its head is a proper noun) and of a scored type."""
    eval_type = GUM_TO_EVAL.get(gum_type)
    inside = {token["id"]: token for token in words if first <= token["id"] <= last}
    heads = [token for token in inside.values() if token["head"] not in inside]
    if eval_type is None or not heads or heads[0]["upos"] != PROPER_NOUN:
        return None
    return GoldSpan(doc_id, offsets[first][0], offsets[last][1], eval_type, offsets[heads[0]["id"]])


def bio_spans(doc_id: str, tags: list[str], offsets: list[tuple[int, int]]) -> Iterator[GoldSpan]:
    """Spans of a BIO (or IOB1) tag sequence: an entity starts at B-, or at I- after another type."""
    start, current = 0, None
    for index, tag in enumerate([*tags, "O"]):
        prefix, _, name = tag.partition("-")
        continues = prefix == "I" and name == current
        if current is not None and not continues:
            eval_type = BIO_TO_EVAL.get(current)
            if eval_type:
                yield GoldSpan(doc_id, offsets[start][0], offsets[index - 1][1], eval_type)
            current = None
        if prefix in {"B", "I"} and not continues:
            start, current = index, name


def read_conll_columns(text: str, default_id: str) -> Iterator[GoldDocument]:
    """Documents of a whitespace-column CoNLL file: word first, BIO tag last, `-DOCSTART-` between documents."""
    builder, number = DocumentBuilder(default_id), 0
    spans: list[GoldSpan] = []
    tags: list[str] = []
    offsets: list[tuple[int, int]] = []
    for line in [*text.splitlines(), ""]:
        columns = line.split()
        if columns and columns[0] == DOCSTART:
            if builder.text:
                yield GoldDocument(builder.doc_id, builder.text, tuple(spans))
            number += 1
            builder, spans = DocumentBuilder(f"{default_id}-{number}"), []
        elif columns:
            offsets.append(builder.add_token(columns[0], True))
            tags.append(columns[-1])
        else:
            spans.extend(bio_spans(builder.doc_id, tags, offsets))
            tags, offsets = [], []
    if builder.text:
        yield GoldDocument(builder.doc_id, builder.text, tuple(spans))


# --- scoring -------------------------------------------------------------------------------------------


def matches(predicted: tuple[int, int], gold: GoldSpan) -> bool:
    """Exact span for plain names; for a noun phrase, inside it and covering its head."""
    start, end = predicted
    if gold.head is None:
        return (start, end) == (gold.start, gold.end)
    return gold.start <= start <= gold.head[0] and gold.head[1] <= end <= gold.end


def score_type(predicted: list[tuple[int, int]], gold: list[GoldSpan]) -> TypeScore:
    """One-to-one greedy matching of predictions to gold spans of one type in one document."""
    unmatched = list(gold)
    hits = 0
    for span in sorted(predicted):
        found = next((g for g in unmatched if matches(span, g)), None)
        if found is not None:
            unmatched.remove(found)
            hits += 1
    return TypeScore(hits, len(predicted) - hits, len(unmatched))


def add(scores: Iterable[TypeScore]) -> TypeScore:
    scores = list(scores)
    return TypeScore(
        sum(s.true_positives for s in scores),
        sum(s.false_positives for s in scores),
        sum(s.false_negatives for s in scores),
    )


def evaluate_entities(gold_path: Path, model: str) -> EntityScores:
    """Run the entity stage (NER, cleaning, linking, type voting) on the gold texts and score it per type.

    The same parse, link and resolve steps the pipeline's annotate runs, without alias rules: the score is
    the model's and the rules', not the reviewed alias file's.
    """
    return compare_entities(gold_path, model)[0]


def compare_entities(gold_path: Path, model: str) -> tuple[EntityScores, EntityScores]:
    """The entity stage's scores and, from the same parse, those of spaCy's own spans (`doc.ents`, as a user of
    the bare model gets them): what the stage adds."""
    documents = read_gold(gold_path)
    nlp = load_pipeline(model)
    parsed = list(parse(nlp, [ArticleText(doc.doc_id, doc.text, nlp.lang) for doc in documents]))
    batch = resolve(link_article(item) for item in parsed)
    types = {entity.entity_id: entity.type for entity in batch.entities}
    stage = [(m.article_id, types[m.entity_id], m.start_char, m.end_char) for m in batch.mentions]
    spacy = [
        (item.article.article_id, ent.label_, ent.start_char, ent.end_char)
        for item in parsed
        if item.doc is not None
        for ent in item.doc.ents
    ]
    return _score(documents, model, stage), _score(documents, model, spacy)


def _score(documents: Sequence[GoldDocument], model: str, spans: Iterable[tuple[str, str, int, int]]) -> EntityScores:
    """Per-type scores of predicted (document, spaCy label, start, end) spans against the documents' gold."""
    predicted: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for doc_id, label, start, end in spans:
        eval_type = SPACY_TO_EVAL.get(label)
        if eval_type:
            predicted[(doc_id, eval_type)].append((start, end))
    gold: dict[tuple[str, str], list[GoldSpan]] = defaultdict(list)
    for doc in documents:
        for span in doc.spans:
            gold[(doc.doc_id, span.type)].append(span)
    per_type = {
        eval_type: add(
            score_type(predicted[(doc.doc_id, eval_type)], gold[(doc.doc_id, eval_type)]) for doc in documents
        )
        for eval_type in EVAL_TYPES
    }
    return EntityScores(model, len(documents), per_type, add(per_type.values()))


def format_comparison(stage: EntityScores, spacy: EntityScores) -> str:
    """F1 per type of the entity stage beside spaCy's own spans, and what the stage adds."""
    lines = [f"model {stage.model}, {stage.documents} documents", f"{'type':<8}{'stage':>8}{'spaCy':>8}{'gain':>8}"]
    rows = [(name, stage.per_type[name], spacy.per_type[name]) for name in stage.per_type]
    for name, ours, theirs in [*rows, ("overall", stage.overall, spacy.overall)]:
        lines.append(f"{name:<8}{ours.f1:>8.3f}{theirs.f1:>8.3f}{ours.f1 - theirs.f1:>+8.3f}")
    return "\n".join(lines)


def format_table(scores: EntityScores) -> str:
    """A plain-text table: one row per type and an overall (micro) row."""
    header = f"{'type':<8}{'P':>8}{'R':>8}{'F1':>8}{'TP':>7}{'FP':>7}{'FN':>7}"
    rows = [*scores.per_type.items(), ("overall", scores.overall)]
    lines = [f"model {scores.model}, {scores.documents} documents", header]
    for name, s in rows:
        lines.append(
            f"{name:<8}{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}"
            f"{s.true_positives:>7}{s.false_positives:>7}{s.false_negatives:>7}"
        )
    return "\n".join(lines)
