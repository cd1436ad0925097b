"""Whether a quoted span is speech, and who said it: the speech cue and the speaker phrase around it.

Each span is attributed from its own sentence: a cue after it (`"…," Lavrov said.`, `— said Putin.`,
`", according to X.`), a cue before it (`X said: "…"`, `According to X, "…"`, `X vowed to "…"`), the
attributed quote right before it (`"…," he said. "…"`) or the reported statement right before it
(`Heald noted … . "…"`). A quoted fragment with no speech context, a title-cased name or a term
introduced by "so-called"/"dubbed" is not a quote. The phrase found is handed to speakers.py to resolve.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.nlp.quotes.marks import PARAGRAPH_BREAK, TERMINATORS, Layout
from pipelines.nlp.quotes.speakers import (
    SUBJECT_DEPS,
    WORD_RE,
    Context,
    Speaker,
    resolve_speaker,
)

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

DIRECT = "direct"  # a full quoted statement
PARTIAL = "partial"  # a quoted fragment inside a reported sentence

# verbs that report speech, by base form; every inflection of them is a cue
_SPEECH_BASES = (
    "say", "tell", "add", "note", "state", "explain", "stress", "emphasize", "emphasise", "underscore",
    "underline", "report", "announce", "declare", "insist", "argue", "warn", "vow", "pledge", "promise",
    "urge", "ask", "reply", "answer", "write", "tweet", "comment", "remark", "conclude", "acknowledge",
    "admit", "claim", "suggest", "observe", "recall", "caution", "complain", "concede", "confirm",
    "predict", "quip", "joke", "mention", "assure", "affirm", "assert", "reiterate", "highlight",
    "contend", "lament", "boast", "respond", "retort", "demand", "shout", "testify", "quote", "accuse",
    "exclaim", "interject", "counter", "rejoin", "continue",
)
# forms the regular rules below would get wrong
_IRREGULAR_FORMS: Mapping[str, tuple[str, ...]] = {
    "say": ("said",),
    "tell": ("told",),
    "write": ("wrote", "written"),
    "quip": ("quipped", "quipping"),
    "admit": ("admitted", "admitting"),
    "reply": ("replied", "replies"),
    "testify": ("testified", "testifies"),
}
ACCORDING_CUE = "according to"
SOURCE_PHRASES = (("according", "to"), ("in", "the", "words", "of"))  # they name the speaker that follows
# a document speaks for its author: "a report by the board", "a statement from the ministry"
SOURCE_NOUNS = frozenset({
    "report", "statement", "study", "letter", "release", "survey", "memo", "readout", "post", "analysis", "website",
})
SOURCE_PREPOSITIONS = frozenset({"by", "from", "of"})
MAX_TAIL_CUE_WORDS = 20  # `"…," Khaled Al-Maeena, editor at large at the Saudi Gazette, said.`
BETWEEN_PARTS = " \t\n.,;"  # what may separate two parts of one quotation
QUOTED = "quoted"
SAYING = "saying"
FINITE_TAGS = frozenset({"VBD", "VBZ", "VBP"})  # "said Putin" inverts; "highlighting the importance" does not
INVERTED_TAGS = FINITE_TAGS | {"VBN"}  # after a comma the tagger often reads "added KCNA" as a participle
OBJECT_DEPS = frozenset({"dobj", "obj"})
NOMINAL_POS = frozenset({"PROPN", "NOUN", "PRON"})
NOT_SPEAKER_ENTS = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY"})
RELATIVE_PRONOUNS = frozenset({"who", "which", "that"})
SPEAKER_INNER_POS = frozenset({"DET", "ADJ", "PROPN", "NOUN", "NUM", "PART", "PRON"})
NOT_A_VERB_POS = frozenset({"NOUN", "PROPN", "ADJ", "NUM"})
POSSESSIVE_TAGS = frozenset({"POS", "PRP$"})  # "'s" and "his" come before nouns, not verbs
ARTICLES = frozenset({"the", "a", "an"})
SKIPPABLE_BEFORE_CUE = frozenset({"AUX", "ADV", "PART"})  # "Lavrov has also said"
MAX_SUBJECT_HOPS = 2  # "X said …, adding" -> the subject of "said"
HYPHEN_TAG = "HYPH"
COLON_OR_COMMA = frozenset({":", ",", "—", "–"})

# fragments that are names or scare quotes, not speech
MIN_EMBEDDED_WORDS = 3  # `vowed efforts to "overcome the differences …"`, not `called it "unacceptable"`
MAX_NAME_WORDS = 8
NAMING_WORDS = frozenset({
    "so-called", "dubbed", "named", "titled", "entitled", "labelled", "labeled", "called", "nicknamed", "termed",
    "branded", "coined", "codenamed", "code-named",
})
NAME_FUNCTION_WORDS = frozenset({"of", "the", "and", "for", "in", "on", "a", "an", "to", "at", "de", "la", "vs"})
_ENDS_LIKE_SPEECH = re.compile(r"[,.!?;:…]\s*$")

# how direct each attribution method is: a quote's confidence is its speaker's times this
ATTRIBUTION_FACTOR: Mapping[str, float] = {
    "post-cue": 1.0, "pre-cue": 1.0, "according-to": 1.0, "embedded": 0.9, "continuation": 0.9,
    "after-statement": 0.8,
}


def _inflections(base: str) -> set[str]:
    """Present, third person, past and -ing forms of a regular English verb, plus the listed irregular ones."""
    stem = base[:-1] if base.endswith("e") else base
    third = base[:-1] + "ies" if base.endswith("y") and base[-2] not in "aeiou" else base + (
        "es" if base.endswith(("s", "sh", "ch", "x")) else "s")
    past = base[:-1] + "ied" if base.endswith("y") and base[-2] not in "aeiou" else stem + "ed"
    return {base, third, past, stem + "ing", *_IRREGULAR_FORMS.get(base, ())}


SPEECH_FORMS = frozenset(form for base in _SPEECH_BASES for form in _inflections(base))
CALL_FORMS = frozenset(_inflections("call"))
ADJACENT_ONLY_CUES = frozenset(_inflections("continue"))  # a cue only right beside a quote: `She continued: "…"`


@dataclass(frozen=True, slots=True)
class Attribution:
    """Why a span is a quote: the cue word, the speaker, how they were found and the quote's kind."""

    speaker: Speaker
    cue: str
    method: str
    kind: str
    region_end: int  # char index where the quote and its attribution end; a following quote may continue it


def _breaks_clause(token: Token) -> bool:
    return token.text in TERMINATORS or (token.is_space and PARAGRAPH_BREAK in token.text)


def _head_region(layout: Layout, k: int) -> list[Token]:
    """The clause before quote k, back to the sentence start; an earlier quote inside the clause is skipped.

    A paragraph ending in a colon ("Ellison wrote:") introduces the quote that opens the next paragraph.
    """
    doc, owner = layout.doc, layout.owner
    region: list[Token] = []
    i = layout.first[k] - 1
    while i >= 0:
        token = doc[i]
        other = owner[token.i]
        if other >= 0:
            if layout.ends_sentence(other):
                break
            i = layout.first[other] - 1
            continue
        if _breaks_clause(token):
            if not (token.is_space and not _words(region) and i > 0 and doc[i - 1].text == ":"):
                break
        elif not token.is_space:
            region.append(token)
        i -= 1
    return region[::-1]


def _tail_region(layout: Layout, k: int) -> list[Token]:
    """Tokens after quote k up to the end of its sentence, a paragraph break or the next quotation."""
    doc, owner = layout.doc, layout.owner
    region: list[Token] = []
    for i in range(layout.last[k] + 1, len(doc)):  # indexing, not a slice: an empty Doc slice rebuilds doc.text
        token = doc[i]
        if owner[i] >= 0 or _breaks_clause(token):
            break
        if not token.is_space:
            region.append(token)
    return region


def _words(tokens: Iterable[Token]) -> list[Token]:
    return [t for t in tokens if not t.is_punct and not t.is_space]


def _is_cue(token: Token) -> bool:
    """A reporting verb ("said", "vowed", "was quoted as saying", "called for"), not a noun like "the report"."""
    before = token.nbor(-1) if token.i > 0 else None
    if token.pos_ in NOT_A_VERB_POS or (before is not None and (before.tag_ in POSSESSIVE_TAGS or before.lower_ in ARTICLES)):
        return False  # "his client's answers", "the report": a noun the tagger took for a verb
    if token.lower_ in CALL_FORMS:  # "called for" reports a demand; "called it 'unacceptable'" names
        return token.i + 1 < len(token.doc) and token.nbor().lower_ == "for"
    return token.lower_ in SPEECH_FORMS


def _nominal_after(tokens: Sequence[Token], i: int) -> list[Token]:
    """The noun phrase starting at `tokens[i]` ("said Japanese Prime Minister"), or [] when none starts there."""
    phrase: list[Token] = []
    for token in tokens[i:]:
        if token.pos_ not in SPEAKER_INNER_POS or token.ent_type_ in NOT_SPEAKER_ENTS:  # "said Monday"
            break
        phrase.append(token)
        if token.pos_ == "PRON":
            break
    while phrase and phrase[-1].pos_ not in NOMINAL_POS:
        phrase.pop()
    return phrase


def _nominal_before(tokens: Sequence[Token], i: int) -> list[Token]:
    """The noun phrase ending just before `tokens[i]`, skipping auxiliaries and adverbs ("Lavrov has also said")."""
    j = i - 1
    while j >= 0 and tokens[j].pos_ in SKIPPABLE_BEFORE_CUE:
        j -= 1
    end = j + 1
    while j >= 0 and tokens[j].pos_ in SPEAKER_INNER_POS:
        j -= 1
    phrase = list(tokens[j + 1 : end])
    return phrase if phrase and phrase[-1].pos_ in NOMINAL_POS else []


def _phrase_of(head: Token, allowed: set[int]) -> list[Token]:
    """The speaker phrase headed by `head`: its left modifiers and name parts, without relative clauses."""
    left = [t for t in head.subtree if t.i < head.i and t.i in allowed]
    right = [t for t in head.rights if t.dep_ in ("flat", "compound") and t.i in allowed]
    tokens = sorted({*left, head, *right}, key=lambda t: t.i)
    # keep only the contiguous run that ends at the head: "Morgulov, who …" or a stray left edge is cut
    run = [head]
    for token in reversed([t for t in tokens if t.i < head.i]):
        if token.i != run[0].i - 1 or (token.is_punct and token.tag_ != HYPHEN_TAG):  # "Al-Maeena" stays whole
            break
        run.insert(0, token)
    run.extend(t for t in tokens if t.i > head.i)
    return run


def _subject_of(cue: Token) -> Token | None:
    """The grammatical speaker of a cue, climbing from "adding"/"saying" to the verb that has a subject."""
    quoted = cue.head.head if cue.head.lower_ == "as" else cue.head
    if cue.lower_ == SAYING and quoted.lower_ == QUOTED:  # "Reuters quoted X as saying" / "X was quoted as saying"
        for dep_set in (OBJECT_DEPS, SUBJECT_DEPS):
            found = next((c for c in quoted.children if c.dep_ in dep_set), None)
            if found is not None:
                return found
    verb = cue
    for _ in range(MAX_SUBJECT_HOPS + 1):
        # two subjects ("Malaysia's Prime Minister, Najib Razak said") is a misparsed apposition: the nearer name
        subjects = [c for c in verb.children if c.dep_ in SUBJECT_DEPS]
        subject = min(subjects, key=lambda c: (c.pos_ != "PROPN", abs(c.i - verb.i)), default=None)
        if subject is not None and subject.lower_ in RELATIVE_PRONOUNS and verb.dep_ == "relcl":
            return verb.head  # "Morales, who proceeded to tell his employees" -> Morales
        if subject is not None:
            return subject
        if verb.head is verb:
            break
        verb = verb.head
    return None


def _speaker_tokens(cue: Token, region: Sequence[Token]) -> list[Token]:
    """The speaker phrase of a cue inside `region`: its subject, else the noun phrase after or before it."""
    allowed = {t.i for t in region}
    subject = _subject_of(cue)
    named_subject = subject is not None and subject.i in allowed and subject.pos_ in ("PROPN", "PRON")
    parenthetical = [] if named_subject else _parenthetical_speaker(cue, region)
    if parenthetical:  # "The initiative, said Nagel, …": the parser takes "initiative" for the subject
        return parenthetical
    if subject is not None and subject.i in allowed:
        return _source_owner(_phrase_of(subject, allowed), region)
    position = next(k for k, t in enumerate(region) if t.i == cue.i)
    inverted = _nominal_after(region, position + 1) if cue.tag_ in FINITE_TAGS else []
    return _source_owner(inverted or _nominal_before(region, position), region)


def _parenthetical_speaker(cue: Token, region: Sequence[Token]) -> list[Token]:
    """ "The initiative, said Nagel, "…"": after a comma, an inverted cue names its speaker right after it."""
    position = next(k for k, t in enumerate(region) if t.i == cue.i)
    if cue.tag_ not in INVERTED_TAGS or (position > 0 and not region[position - 1].is_punct):
        return []
    return _nominal_after(region, position + 1)


def _source_owner(phrase: list[Token], region: Sequence[Token]) -> list[Token]:
    """ "a statement from the ministry said", "according to a report by the board": the author speaks."""
    if not phrase or phrase[-1].lower_ not in SOURCE_NOUNS:
        return phrase
    possessor = next((c for c in phrase[-1].children if c.dep_ == "poss" and c.pos_ in ("PROPN", "NOUN")), None)
    if possessor is not None:  # "PC World's recent analysis concluded", "the ministry's statement said"
        return _phrase_of(possessor, {t.i for t in region})
    after = [k + 1 for k, t in enumerate(region) if t.i == phrase[-1].i and k + 1 < len(region)]
    if after and region[after[0]].lower_ in SOURCE_PREPOSITIONS:
        return _nominal_after(region, after[0] + 1) or phrase
    return phrase


def _named_source_at(region: Sequence[Token], k: int) -> list[Token]:
    """The X when "according to X" or "in the words of X" starts at `region[k]`, else []."""
    lowers = tuple(t.lower_ for t in region[k : k + max(map(len, SOURCE_PHRASES))])
    for phrase in SOURCE_PHRASES:
        if lowers[: len(phrase)] == phrase:
            return _source_owner(_nominal_after(region, k + len(phrase)), region)
    return []


def _according_to(region: Sequence[Token]) -> list[Token]:
    """The X of the first "according to X" or "in the words of X" in the region, or []."""
    return next(filter(None, (_named_source_at(region, k) for k in range(len(region)))), [])


def _reports_own_clause(cue: Token, owner: Sequence[int]) -> bool:
    """ "The leader added that …" after a quote reports a new statement instead of attributing the quote."""
    return any(c.dep_ == "ccomp" and c.i > cue.i and owner[c.i] < 0 for c in cue.children)


def _cue_introduces(cue: Token, head: Sequence[Token]) -> bool:
    """ "X said: “…”", "X told journalists, “…”": only the cue's own objects stand between it and the quote."""
    if head[-1].i == cue.i:
        return True
    if head[-1].text not in COLON_OR_COMMA:
        return False
    between = [t for t in head if cue.i < t.i < head[-1].i]
    return all(t.pos_ in SPEAKER_INNER_POS or t.pos_ == "ADP" for t in between)


def _is_named_term(head: Sequence[Token]) -> bool:
    """`the so-called "green corridor"`, `what he called "a disaster"`: a term introduced as a name, not speech."""
    return bool(head) and head[-1].lower_ in NAMING_WORDS


def _looks_like_name(quote_text: str, head: Sequence[Token]) -> bool:
    """A short title-cased fragment is a name ("Bastion", "The Internet Explorer 6 Countdown"), not speech.

    Closing punctuation inside the marks ("named “Better Idea of Afghan Girls,” scored") only argues for
    speech when the quote opens its clause or follows a cue ("“No,” he said", `said "Yes."`).
    """
    words = WORD_RE.findall(quote_text)
    content = [w for w in words if w.lower() not in NAME_FUNCTION_WORDS]
    if not content or len(words) > MAX_NAME_WORDS or not all(w[0].isupper() or w[0].isdigit() for w in content):
        return False
    mid_clause = bool(head) and head[-1].text not in COLON_OR_COMMA and not _is_cue(head[-1])
    return mid_clause or not _ENDS_LIKE_SPEECH.search(quote_text)


def _kind(head: Sequence[Token], method: str) -> str:
    """Partial when the quote sits inside a reported sentence ("vowed to “…”"), direct when it opens its clause.

    The second part of an interrupted quote (`“…,” he said, “and …”`) opens its clause too: it is direct.
    """
    opens_clause = not _words(head) or head[-1].text in COLON_OR_COMMA or _is_cue(head[-1])
    return DIRECT if opens_clause and method != "embedded" else PARTIAL


@functools.cache
def _event_cue_ids() -> frozenset[int]:
    """spaCy's ids of the lower-case forms that may be a reporting verb of an event (ADJACENT_ONLY_CUES are not)."""
    from spacy.strings import hash_string

    return frozenset(hash_string(form) for form in (SPEECH_FORMS - ADJACENT_ONLY_CUES) | CALL_FORMS)


@dataclass(frozen=True, slots=True)
class Event:
    """A reporting verb outside quotes and its resolved speaker."""

    cue: int  # token index
    speaker: Speaker


def reported_speech(doc: Doc, owner: Sequence[int], context: Context) -> list[Event]:
    """Every reporting verb outside quotes with its speaker, in reading order; later pronouns refer back to them."""
    from spacy.attrs import LOWER

    events: list[Event] = []
    words = _event_cue_ids()
    for i, word in enumerate(doc.to_array(LOWER).tolist()):  # token objects only for the few cue words
        if word not in words or owner[i] >= 0 or not _is_cue(token := doc[i]):
            continue
        region = [t for t in token.sent if owner[t.i] < 0 and not t.is_space]
        phrase = _speaker_tokens(token, region)
        if phrase:
            events.append(Event(token.i, resolve_speaker(phrase, [e.speaker for e in events], context)))
    return events


def _after(layout: Layout, k: int, tail: Sequence[Token]) -> tuple[list[Token], Token | None] | None:
    """`"…," Lavrov said` / `"…," said Putin` / `"…", according to X`: the attribution opens the clause after."""
    words = _words(tail)
    according = _named_source_at(words, 0)
    if according:
        return according, None
    cue = next((t for t in words[:MAX_TAIL_CUE_WORDS] if _is_cue(t)), None)
    if not words or cue is None or _reports_own_clause(cue, layout.owner):
        return None
    phrase = _speaker_tokens(cue, tail)
    return (phrase, cue) if phrase and min(phrase[0].i, cue.i) <= words[0].i else None


def _before(quote_text: str, head: Sequence[Token]) -> tuple[list[Token], Token | None, str] | None:
    """`According to X, "…"`, `X said: "…"`, or a fragment inside a reported sentence (`X vowed to "…"`)."""
    according = _according_to(head)
    if according:
        return according, None, "according-to"
    cue = next((t for t in reversed(head) if _is_cue(t)), None)
    if cue is None:
        return None
    phrase = _speaker_tokens(cue, head)
    if _cue_introduces(cue, head):
        return (phrase, cue, "pre-cue") if phrase else None
    embedded_ok = len(WORD_RE.findall(quote_text)) >= MIN_EMBEDDED_WORDS and cue.lower_ not in ADJACENT_ONLY_CUES
    return (phrase, cue, "embedded") if phrase and embedded_ok else None


def _previous_sentence_event(layout: Layout, k: int, events: Sequence[Event]) -> Event | None:
    """For a quote standing alone, the reporting verb of the sentence just before it ("Heald noted …. "…"")."""
    doc, owner = layout.doc, layout.owner
    i = layout.first[k] - 1
    while i >= 0 and doc[i].is_space:
        i -= 1
    if i < 0 or owner[i] >= 0:
        return None
    start = i - 1
    while start >= 0 and owner[start] < 0 and not _breaks_clause(doc[start]):
        start -= 1
    return next((e for e in reversed(events) if start < e.cue < i), None)


def attribute(
    layout: Layout,
    k: int,
    previous: Attribution | None,
    earlier: Sequence[Speaker],
    events: Sequence[Event],
    context: Context,
) -> Attribution | None:
    """Attribute quote k: the clause after it, the clause before it, then the quote or statement it follows."""
    doc, span = layout.doc, layout.spans[k]
    quote_text = layout.text[span.start : span.end]
    head, tail = _head_region(layout, k), _tail_region(layout, k)
    if _is_named_term(head) or _looks_like_name(quote_text, head):
        return None
    region_end = tail[-1].idx + len(tail[-1].text) if tail else span.close_end
    speakers = [*earlier, *(e.speaker for e in events if e.speaker.start_char < span.open_start)]
    found_after = _after(layout, k, tail)
    if found_after is not None:
        phrase, cue_token = found_after
        cue = cue_token.text if cue_token is not None else ACCORDING_CUE
        return Attribution(resolve_speaker(phrase, speakers, context), cue, "post-cue", _kind(head, "post-cue"), region_end)
    found_before = _before(quote_text, head)
    if found_before is not None:
        phrase, cue_token, method = found_before
        cue = cue_token.text if cue_token is not None else ACCORDING_CUE
        return Attribution(resolve_speaker(phrase, speakers, context), cue, method, _kind(head, method), region_end)
    if _words(head) or _words(tail):
        return None
    if previous is not None and not layout.text[previous.region_end : span.open_start].strip(BETWEEN_PARTS):
        return Attribution(previous.speaker, previous.cue, "continuation", DIRECT, span.close_end)
    event = _previous_sentence_event(layout, k, events)
    if event is not None:
        return Attribution(event.speaker, doc[event.cue].text, "after-statement", DIRECT, span.close_end)
    return None
