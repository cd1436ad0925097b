"""Quotations and their speakers, by rules over the spaCy parse the entity stage already made.

Three steps, each small enough to test alone:
1. `find_quote_spans` pairs quote marks in the raw text (straight, curly, guillemets, single curly, and a
   quote running over several paragraphs with an opening mark at each one).
2. Each span is attributed from its own sentence: a cue after it (`"…," Lavrov said.`, `— said Putin.`,
   `", according to X.`), a cue before it (`X said: "…"`, `According to X, "…"`, `X vowed to "…"`), the
   attributed quote right before it (`"…," he said. "…"`) or the reported statement right before it
   (`Heald noted … . "…"`). A quoted fragment with no speech context, a title-cased name or a term
   introduced by "so-called"/"dubbed" is not a quote.
3. The speaker is linked to an entity: a mention under the speaker's head word (or its apposition), a name
   that matches an entity of the article, a pronoun resolved to the latest compatible speaker or subject,
   or a role noun ("the ministry", "the Russian top diplomat") matched against the titles and appositions
   of earlier mentions. An unresolved speaker keeps its text, a NULL entity and a low confidence.

Rows carry `method` = "rules-v1:<how>" (post-cue, pre-cue, according-to, embedded, continuation,
after-statement) and a confidence: the speaker evidence (mention 0.9 … unresolved 0.3) times how direct
the attribution was.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.ids import stable_id
from pipelines.records import ArticleText, Entity, EntityMention, Quote

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

    from pipelines.nlp.model import ParsedArticle

METHOD_PREFIX = "rules-v1"
DIRECT = "direct"  # a full quoted statement
PARTIAL = "partial"  # a quoted fragment inside a reported sentence
PARSE_CHECK_STRIDE = 50  # every 50th token is compared with the article text

# --- quote marks ---------------------------------------------------------------------------

# opening mark -> the marks that may close it
QUOTE_PAIRS: Mapping[str, str] = {"“": "”", "«": "»", "„": "“”", '"': '"', "‘": "’"}
_OPEN_CONTEXT = re.compile(r"[\s(\[{—–\-:;,/]")  # what may stand right before an opening mark
_SINGLE_CLOSE_AFTER = re.compile(r"[^\w]|$")  # a closing ’ is not followed by a letter ("don’t")
_PARAGRAPH_BREAK = "\n"
MAX_QUOTE_CHARS = 5000  # a "quote" longer than this is an unbalanced mark, not speech

# --- speech cues ---------------------------------------------------------------------------

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
SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
SAME_REFERENT_DEPS = frozenset({"appos", "flat"})  # not "compound": "a Kremlin spokesman" is not the Kremlin
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
TERMINATORS = frozenset({".", "!", "?"})
HYPHEN_TAG = "HYPH"
COLON_OR_COMMA = frozenset({":", ",", "—", "–"})

# --- fragments that are names or scare quotes, not speech ----------------------------------

MIN_EMBEDDED_WORDS = 3  # `vowed efforts to "overcome the differences …"`, not `called it "unacceptable"`
MAX_NAME_WORDS = 8
NAMING_WORDS = frozenset({
    "so-called", "dubbed", "named", "titled", "entitled", "labelled", "labeled", "called", "nicknamed", "termed",
    "branded", "coined", "codenamed", "code-named",
})
NAME_FUNCTION_WORDS = frozenset({"of", "the", "and", "for", "in", "on", "a", "an", "to", "at", "de", "la", "vs"})
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_ENDS_LIKE_SPEECH = re.compile(r"[,.!?;:…]\s*$")

# --- speakers ------------------------------------------------------------------------------

PRONOUN_TYPES: Mapping[str, tuple[str, ...]] = {
    "he": ("PERSON",),
    "him": ("PERSON",),
    "she": ("PERSON",),
    "her": ("PERSON",),
    "it": ("ORG", "GPE"),
}  # "they"/"we" are as often unnamed people ("they testified") as an organisation: left unresolved
PRONOUNS = frozenset({*PRONOUN_TYPES, "they", "them", "we", "i", "you"})
_MASCULINE, _FEMININE = frozenset({"he", "him"}), frozenset({"she", "her"})
OPPOSITE_PRONOUNS: Mapping[str, frozenset[str]] = {
    **dict.fromkeys(_MASCULINE, _FEMININE), **dict.fromkeys(_FEMININE, _MASCULINE),
}
# other taggers' names for spaCy's PERSON and ORG
ENTITY_TYPE_ALIASES: Mapping[str, str] = {"PER": "PERSON", "ORGANIZATION": "ORG", "ORGANISATION": "ORG"}
# a role noun's head may be named differently in the text that introduced the person
ROLE_SYNONYMS: Mapping[str, tuple[frozenset[str], ...]] = {
    "leader": (frozenset({"president"}), frozenset({"premier"}), frozenset({"prime", "minister"}),
               frozenset({"chancellor"}), frozenset({"leader"})),
    "diplomat": (frozenset({"diplomat"}), frozenset({"foreign", "minister"}), frozenset({"foreign", "secretary"}),
                 frozenset({"external", "minister"}), frozenset({"ambassador"}), frozenset({"envoy"}),
                 frozenset({"secretary", "state"})),
    "premier": (frozenset({"premier"}), frozenset({"prime", "minister"})),
    "envoy": (frozenset({"envoy"}), frozenset({"ambassador"})),
}
DEFINITE = frozenset({"the", "this", "that"})
GENERIC_ORG_NOUNS = frozenset({
    "company", "firm", "group", "corporation", "bank", "agency", "organisation", "organization", "ministry",
    "department", "carrier", "airline", "automaker", "retailer", "insurer", "lender", "maker", "club", "party",
    "union", "government", "administration", "regulator", "court", "board", "committee", "council",
})
INDEFINITE = frozenset({"a", "an", "one", "another", "some", "any"})  # "a diplomat said" is someone new
# modifiers that rank within a role and may be dropped when the role is repeated ("the top diplomat")
SOFT_MODIFIERS = frozenset({"top", "chief", "senior", "former", "new", "acting", "veteran", "then"})
# demonyms whose first letters differ from the country's name
_DEMONYMS: Mapping[str, str] = {
    "french": "france", "dutch": "netherlands", "spanish": "spain", "polish": "poland", "irish": "ireland",
    "danish": "denmark", "finnish": "finland", "welsh": "wales", "american": "us", "british": "uk",
    "britain": "uk", "america": "us", "filipino": "philippines", "swiss": "switzerland", "scottish": "scotland",
    "greek": "greece", "cypriot": "cyprus", "czech": "czechia", "soviet": "ussr", "emirati": "uae",
}
PLACE_MARK = "@"  # title words that name a place are kept as "@russ", so nationalities can conflict
DEMONYM_KEY_CHARS = 4  # "Russian"/"Russia", "Japanese"/"Japan", "Chinese"/"China" share their first letters
TITLE_STOP_POS = frozenset({"DET", "PUNCT", "VERB", "AUX", "PRON", "CCONJ", "SCONJ", "SPACE", "NUM"})
MAX_TITLE_TOKENS = 7

CONF_MENTION = 0.9
CONF_NAME = 0.8
CONF_ROLE = 0.7
CONF_ROLE_AMBIGUOUS = 0.45
CONF_PRONOUN_SPEAKER = 0.7
CONF_PRONOUN_SUBJECT = 0.6
CONF_PRONOUN_MENTION = 0.45
CONF_GENERIC_ORG = 0.5
CONF_UNRESOLVED = 0.3
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


# --- step 1: quote marks -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuoteSpan:
    """Character offsets of one quotation: `start:end` is the quoted text, `open_start:close_end` adds the marks."""

    open_start: int
    start: int
    end: int
    close_end: int


def _opens_at(text: str, i: int) -> bool:
    """An opening mark stands after a space or opening punctuation and before the quoted word."""
    before_ok = i == 0 or bool(_OPEN_CONTEXT.match(text[i - 1]))
    after = text[i + 1] if i + 1 < len(text) else " "
    return before_ok and not after.isspace() and after not in QUOTE_PAIRS.get(text[i], "")


def _closes_at(text: str, j: int, opener: str) -> bool:
    """`’` doubles as the apostrophe: it closes only before a non-letter and not as a plural possessive."""
    if text[j] not in QUOTE_PAIRS[opener]:
        return False
    if opener != "‘":
        return True
    after = text[j + 1 : j + 3]
    if not _SINGLE_CLOSE_AFTER.match(after[:1]):
        return False
    # "the countries’ peoples": a space then a lower-case word after an "s" is a possessive
    return not (text[j - 1] == "s" and after[:1] == " " and after[1:2].islower())


def _paragraph_reopens(text: str, j: int, opener: str) -> int | None:
    """Past a paragraph break, the index after the opening mark that continues the same quote, else None."""
    k = j
    while k < len(text) and text[k].isspace():
        k += 1
    return k + 1 if k < len(text) and text[k] == opener else None


def _find_close(text: str, i: int) -> tuple[int, int] | None:
    """Where the quote opened at `i` ends: (end of the quoted text, index after the closing mark)."""
    opener = text[i]
    j = i + 1
    limit = min(len(text), i + MAX_QUOTE_CHARS)
    while j < limit:
        char = text[j]
        if char == _PARAGRAPH_BREAK:
            reopened = _paragraph_reopens(text, j, opener)
            if reopened is None:
                return None
            j = reopened
            continue
        if _closes_at(text, j, opener):
            return j, j + 1
        j += 1
    return None


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets without the blanks just inside the marks."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def find_quote_spans(text: str) -> list[QuoteSpan]:
    """Top-level quotations in reading order; marks nested inside a quotation belong to its text."""
    spans: list[QuoteSpan] = []
    i = 0
    while i < len(text):
        if text[i] in QUOTE_PAIRS and _opens_at(text, i):
            closed = _find_close(text, i)
            if closed is not None:
                start, end = _trimmed(text, i + 1, closed[0])
                if end > start:
                    spans.append(QuoteSpan(i, start, end, closed[1]))
                i = closed[1]
                continue
        i += 1
    return spans


# --- step 2: attribution -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Speaker:
    """A speaker phrase and what it resolved to."""

    start_char: int
    end_char: int
    text: str
    entity_id: str | None
    confidence: float

    @property
    def is_pronoun(self) -> bool:
        return self.text.lower() in PRONOUNS


@dataclass(frozen=True, slots=True)
class Attribution:
    """Why a span is a quote: the cue word, the speaker, how they were found and the quote's kind."""

    speaker: Speaker
    cue: str
    method: str
    kind: str
    region_end: int  # char index where the quote and its attribution end; a following quote may continue it


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the quotations sit in the parse: the span holding each token (or -1) and each span's tokens."""

    doc: Doc
    text: str  # doc.text, which spaCy rebuilds from the tokens on every access
    spans: Sequence[QuoteSpan]
    owner: Sequence[int]
    first: Mapping[int, int]
    last: Mapping[int, int]

    def ends_sentence(self, k: int) -> bool:
        """A quotation whose text ends in . ! or ? closes the sentence around it."""
        return self.text[self.spans[k].end - 1] in TERMINATORS


def _layout(doc: Doc, text: str) -> _Layout:
    """Find the quotations in `text` (the doc's text) and the tokens each one holds."""
    spans = find_quote_spans(text)
    owner = [-1] * len(doc)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    k = 0
    for token in doc:
        while k < len(spans) and spans[k].close_end <= token.idx:
            k += 1
        if k < len(spans) and spans[k].open_start <= token.idx < spans[k].close_end:
            owner[token.i] = k
            first.setdefault(k, token.i)
            last[k] = token.i
    return _Layout(doc, text, spans, owner, first, last)


def _breaks_clause(token: Token) -> bool:
    return token.text in TERMINATORS or (token.is_space and _PARAGRAPH_BREAK in token.text)


def _head_region(layout: _Layout, k: int) -> list[Token]:
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


def _tail_region(layout: _Layout, k: int) -> list[Token]:
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
    words = _WORD.findall(quote_text)
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


# --- step 3: speakers ----------------------------------------------------------------------


def _entity_type(entity: Entity | None) -> str:
    return ENTITY_TYPE_ALIASES.get(entity.type.upper(), entity.type.upper()) if entity else ""


def _place_key(word: str) -> str:
    """"Russian", "Russia" and "Russia's" share a key; so do "American" and "US"."""
    lower = word.lower().removesuffix("’s").removesuffix("'s")
    return PLACE_MARK + _DEMONYMS.get(lower, lower)[:DEMONYM_KEY_CHARS]


def _word_key(token: Token) -> str:
    """Nationality words compare by place key, every other word by its lower case."""
    is_place = token.ent_type_ in ("NORP", "GPE") or (token.pos_ == "ADJ" and token.text[:1].isupper())
    return _place_key(token.text) if is_place else token.lower_


@dataclass(frozen=True, slots=True)
class _Title:
    """How an entity was described at one mention: all title words, and the head nouns a role must match."""

    offset: int
    entity_id: str
    words: frozenset[str]
    heads: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Context:
    """What resolution needs about one article: its mentions in order and each entity's title words."""

    text: str
    mentions: Sequence[EntityMention]
    narrated: Sequence[EntityMention]  # mentions outside quotations
    entities: Mapping[str, Entity]
    titles: Sequence[_Title]
    subjects: Sequence[tuple[int, str]]  # (char offset, entity_id) of mentions that are a clause's subject


def _title_before(doc: Doc, span: Span) -> tuple[list[Token], list[Token]]:
    """Title words right before a name ("Russian Foreign Minister Sergey Lavrov") and their head nouns."""
    before: list[Token] = []
    i = span.start - 1
    while i >= 0 and len(before) < MAX_TITLE_TOKENS:
        token = doc[i]
        if token.pos_ in TITLE_STOP_POS or (token.pos_ == "ADP" and token.lower_ != "of"):
            break
        before.insert(0, token)
        i -= 1
    heads = [t for k, t in enumerate(before) if k == len(before) - 1 or before[k + 1].lower_ == "of"]
    return before, heads


def _appositions(span: Span) -> list[Token]:
    """Heads of appositions: "Sergey Lavrov, Russia's foreign minister," and "Russia's foreign minister, Sergey Lavrov"."""
    heads = [t for tok in span for t in tok.children if t.dep_ == "appos" and t.i >= span.end]
    if span.root.dep_ == "appos" and span.root.head.i < span.start:
        heads.append(span.root.head)
    return heads


def _title(doc: Doc, span: Span, mention: EntityMention, entity: Entity) -> _Title:
    """Title words an entity carries at one mention; an organisation's own name says what it is ("ministry")."""
    words, heads = _title_before(doc, span)
    for head in _appositions(span):
        words += [t for t in head.subtree if not t.is_punct]
        heads.append(head)
    keys = {_word_key(t) for t in words}
    head_keys = {t.lower_ for t in heads}
    if _entity_type(entity) == "ORG":
        keys |= {_word_key(t) for t in span} | {w.lower() for w in _WORD.findall(entity.name)}
        head_keys.add(span.root.lower_)
    return _Title(mention.start_char, mention.entity_id, frozenset(keys), frozenset(head_keys))


def _build_context(layout: _Layout, mentions: Sequence[EntityMention], entities: Mapping[str, Entity]) -> _Context:
    """Index the article's mentions, the narrated ones (outside quotes) that are subjects, and entities' titles."""
    ordered = sorted(mentions, key=lambda m: m.start_char)
    titles: list[_Title] = []
    narrated: list[EntityMention] = []
    subjects: list[tuple[int, str]] = []
    for mention in ordered:
        span = layout.doc.char_span(mention.start_char, mention.end_char, alignment_mode="expand")
        if span is None:
            continue
        if layout.owner[span.start] < 0:  # "General Prelogar" inside a quote is nobody "he" can refer to
            narrated.append(mention)
            if span.root.dep_ in SUBJECT_DEPS:
                subjects.append((mention.start_char, mention.entity_id))
        entity = entities.get(mention.entity_id)
        if entity is not None and _entity_type(entity) in ("PERSON", "ORG"):
            titles.append(_title(layout.doc, span, mention, entity))
    return _Context(layout.text, ordered, narrated, entities, titles, subjects)


def _mention_under(head: Token, context: _Context) -> str | None:
    """The entity of a mention covering the speaker's head word."""
    for mention in context.mentions:
        if mention.start_char <= head.idx < mention.end_char:
            return mention.entity_id
    return None


def _name_match(phrase: Sequence[Token], context: _Context) -> str | None:
    """The one entity of this article whose name holds every proper name in the phrase ("Lavrov" -> Sergey Lavrov)."""
    names = [t.lower_ for t in phrase if t.pos_ == "PROPN" or t.text[:1].isupper()]
    names = [n for n in names if n not in DEFINITE | INDEFINITE]
    if not names:
        return None
    candidates = {m.entity_id for m in context.mentions if m.entity_id in context.entities}
    found = {
        eid for eid in candidates
        if set(names) <= {w.lower() for w in _WORD.findall(context.entities[eid].name)}
    }
    return found.pop() if len(found) == 1 else None


def _role_match(
    phrase: Sequence[Token], before: int, speakers: Sequence[Speaker], context: _Context
) -> tuple[str | None, float]:
    """Resolve "the Russian top diplomat" to the entity introduced earlier with compatible title words.

    Every title word of the role must be in the entity's titles, except ranks ("top") and nationalities the
    titles do not state; a nationality that contradicts them rules the entity out. Ties go to the entity
    spoken of last, at a low confidence.
    """
    content = [t for t in phrase if t.pos_ not in ("DET", "PRON") and not t.is_punct]
    if not content or phrase[0].lower_ in INDEFINITE:
        return None, CONF_UNRESOLVED
    head = content[-1].lower_
    wanted = ROLE_SYNONYMS.get(head, (frozenset({head}),))
    words: dict[str, set[str]] = defaultdict(set)
    matched: set[str] = set()
    for title in context.titles:
        if title.offset < before:
            words[title.entity_id] |= title.words
            if any(option <= title.words and option & title.heads for option in wanted):
                matched.add(title.entity_id)
    modifiers = [_word_key(t) for t in content[:-1]]
    scores: dict[str, int] = {}
    for entity_id in matched:
        fits = [_modifier_fit(key, words[entity_id]) for key in modifiers]
        if None not in fits:
            scores[entity_id] = sum(fit or 0 for fit in fits)
    if not scores:
        return None, CONF_UNRESOLVED
    top = max(scores.values())
    winners = {eid for eid, score in scores.items() if score == top}
    if len(winners) == 1:
        return winners.pop(), CONF_ROLE
    recency = {eid: offset for offset, eid in _entity_offsets(speakers, context) if offset < before}
    return max(winners, key=lambda eid: recency.get(eid, -1)), CONF_ROLE_AMBIGUOUS


def _modifier_fit(key: str, title: set[str]) -> int | None:
    """1 when the titles state the modifier, 0 when they may leave it out, None when it rules the entity out."""
    if key in title:
        return 1
    if key.startswith(PLACE_MARK):  # another nationality contradicts; an unstated one is unknown
        return None if any(word.startswith(PLACE_MARK) for word in title) else 0
    return 0 if key in SOFT_MODIFIERS else None


def _entity_offsets(speakers: Sequence[Speaker], context: _Context) -> list[tuple[int, str]]:
    """(offset, entity_id) of every mention and resolved speaker, in reading order."""
    found = [(m.start_char, m.entity_id) for m in context.mentions]
    found += [(s.start_char, s.entity_id) for s in speakers if s.entity_id]
    return sorted(found)


def _other_gender(pronoun: str, speakers: Sequence[Speaker]) -> frozenset[str]:
    """Entities an earlier "she" resolved to cannot be a later "he", and the other way round."""
    other = OPPOSITE_PRONOUNS.get(pronoun, frozenset())
    return frozenset(s.entity_id for s in speakers if s.entity_id and s.text.lower() in other)


def _latest_of_type(
    types: Sequence[str],
    before: int,
    speakers: Sequence[Speaker],
    context: _Context,
    excluded: frozenset[str] = frozenset(),
) -> tuple[str | None, float]:
    """The latest earlier speaker or clause subject of a compatible type, else the latest compatible mention."""
    strong = [(s.start_char, s.entity_id, CONF_PRONOUN_SPEAKER) for s in speakers if s.entity_id]
    strong += [(offset, entity_id, CONF_PRONOUN_SUBJECT) for offset, entity_id in context.subjects]
    # "a doctor from Hebron said … “…,” he says": the latest speaker is someone unnamed, so is "he"
    unnamed = max(
        (s.start_char for s in speakers if s.entity_id is None and s.start_char < before and not s.is_pronoun),
        default=-1,
    )
    weak = [(m.start_char, m.entity_id, CONF_PRONOUN_MENTION) for m in context.narrated]
    for pool in (strong, weak):  # a bare mention decides only when no speaker or subject fits
        for offset, entity_id, confidence in sorted(pool, reverse=True):
            fits = _entity_type(context.entities.get(entity_id or "")) in types and entity_id not in excluded
            if unnamed < offset < before and fits:
                return entity_id, confidence
    return None, CONF_UNRESOLVED


def _linked(head: Token) -> list[Token]:
    """The head and its appositions, which name the same referent: "the coach, Alireza Mehraban"."""
    found = [head]
    for token in found:
        if len(found) > MAX_TITLE_TOKENS:
            break
        found.extend(c for c in token.children if c.dep_ in SAME_REFERENT_DEPS and c not in found)
    return found


def _resolve(
    phrase: Sequence[Token], speakers: Sequence[Speaker], context: _Context
) -> Speaker:
    """Link a speaker phrase to an entity, most reliable evidence first."""
    head = phrase[-1]
    start, end = phrase[0].idx, head.idx + len(head.text)
    text = context.text[start:end]
    if len(phrase) == 1 and head.lower_ in PRONOUN_TYPES:
        pronoun = head.lower_
        excluded = _other_gender(pronoun, speakers)
        entity_id, confidence = _latest_of_type(PRONOUN_TYPES[pronoun], start, speakers, context, excluded)
        return Speaker(start, end, text, entity_id, confidence)
    entity_id = next(filter(None, (_mention_under(t, context) for t in _linked(head))), None)
    if entity_id is not None:
        return Speaker(start, end, text, entity_id, CONF_MENTION)
    entity_id = _name_match(phrase, context) if head.pos_ == "PROPN" else None
    if entity_id is not None:
        return Speaker(start, end, text, entity_id, CONF_NAME)
    entity_id, confidence = _role_match(phrase, start, speakers, context)
    if entity_id is None and _is_generic_organisation(phrase):
        entity_id, confidence = _latest_of_type(("ORG",), start, speakers, context)
        confidence = min(confidence, CONF_GENERIC_ORG)
    return Speaker(start, end, text, entity_id, confidence)


def _is_generic_organisation(phrase: Sequence[Token]) -> bool:
    """ "the company", "the group": a definite, unmodified organisation noun refers back like "it"."""
    return (
        len(phrase) == 2
        and phrase[0].lower_ in DEFINITE
        and phrase[1].lower_ in GENERIC_ORG_NOUNS
    )


# --- putting it together -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    """A reporting verb outside quotes and its resolved speaker."""

    cue: int  # token index
    speaker: Speaker


def _reported_speech(doc: Doc, owner: Sequence[int], context: _Context) -> list[_Event]:
    """Every reporting verb outside quotes with its speaker, in reading order; later pronouns refer back to them."""
    events: list[_Event] = []
    for token in doc:
        if owner[token.i] >= 0 or not _is_cue(token) or token.lower_ in ADJACENT_ONLY_CUES:
            continue
        region = [t for t in token.sent if owner[t.i] < 0 and not t.is_space]
        phrase = _speaker_tokens(token, region)
        if phrase:
            events.append(_Event(token.i, _resolve(phrase, [e.speaker for e in events], context)))
    return events


def _after(layout: _Layout, k: int, tail: Sequence[Token]) -> tuple[list[Token], Token | None] | None:
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
    embedded_ok = len(_WORD.findall(quote_text)) >= MIN_EMBEDDED_WORDS and cue.lower_ not in ADJACENT_ONLY_CUES
    return (phrase, cue, "embedded") if phrase and embedded_ok else None


def _previous_sentence_event(layout: _Layout, k: int, events: Sequence[_Event]) -> _Event | None:
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


def _attribution(
    layout: _Layout,
    k: int,
    previous: Attribution | None,
    earlier: Sequence[Speaker],
    events: Sequence[_Event],
    context: _Context,
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
        return Attribution(_resolve(phrase, speakers, context), cue, "post-cue", _kind(head, "post-cue"), region_end)
    found_before = _before(quote_text, head)
    if found_before is not None:
        phrase, cue_token, method = found_before
        cue = cue_token.text if cue_token is not None else ACCORDING_CUE
        return Attribution(_resolve(phrase, speakers, context), cue, method, _kind(head, method), region_end)
    if _words(head) or _words(tail):
        return None
    if previous is not None and not layout.text[previous.region_end : span.open_start].strip(BETWEEN_PARTS):
        return Attribution(previous.speaker, previous.cue, "continuation", DIRECT, span.close_end)
    event = _previous_sentence_event(layout, k, events)
    if event is not None:
        return Attribution(event.speaker, doc[event.cue].text, "after-statement", DIRECT, span.close_end)
    return None


def _is_parse_of(doc: Doc, text: str) -> bool:
    """Cheap check that `doc` was made from `text`: same length and sampled tokens in place (doc.text is slow)."""
    if not len(doc):
        return not text
    sample = (doc[i] for i in range(0, len(doc), PARSE_CHECK_STRIDE))
    return doc[-1].idx + len(doc[-1].text_with_ws) == len(text) and all(
        text.startswith(t.text, t.idx) for t in (*sample, doc[-1])
    )


def extract_quotes(
    doc: Doc,
    article: ArticleText,
    mentions: Sequence[EntityMention],
    entities: Mapping[str, Entity],
) -> list[Quote]:
    """Quotes of one article from its existing parse; `doc.text` must be `article.body_text`.

    `mentions` are the article's entity mentions (offsets into body_text) and `entities` maps their ids to
    canonical entities; a speaker is linked only through them.
    """
    text = article.body_text
    if not _is_parse_of(doc, text):
        raise ValueError(f"doc is not the parse of article {article.article_id}'s body_text")
    layout = _layout(doc, text)
    context = _build_context(layout, mentions, entities)
    events = _reported_speech(doc, layout.owner, context)
    quotes: list[Quote] = []
    attributed: list[Attribution] = []
    previous: Attribution | None = None
    for k, span in enumerate(layout.spans):
        if k not in layout.first:
            continue
        previous = _attribution(layout, k, previous, [q.speaker for q in attributed], events, context)
        if previous is not None:
            attributed.append(previous)
            quotes.append(_to_quote(article.article_id, span, text[span.start : span.end], previous))
    return quotes


def extract_batch(
    parsed: Iterable[ParsedArticle], mentions: Iterable[EntityMention], entities: Iterable[Entity]
) -> list[Quote]:
    """Quotes of a parsed batch, given the entity stage's rows for it; an article with no parse has none."""
    by_article: dict[str, list[EntityMention]] = defaultdict(list)
    for mention in mentions:
        by_article[mention.article_id].append(mention)
    by_id = {entity.entity_id: entity for entity in entities}
    return [
        quote
        for item in parsed
        if item.doc is not None
        for quote in extract_quotes(item.doc, item.article, by_article[item.article.article_id], by_id)
    ]


def _to_quote(article_id: str, span: QuoteSpan, quote_text: str, attribution: Attribution) -> Quote:
    """The row for one attributed quote; confidence is the speaker's times how direct the attribution was."""
    speaker = attribution.speaker
    return Quote(
        quote_id=stable_id(article_id, span.start, span.end),
        article_id=article_id,
        quote_text=quote_text,
        start_char=span.start,
        end_char=span.end,
        speaker_text=speaker.text,
        speaker_start=speaker.start_char,
        speaker_end=speaker.end_char,
        speaker_entity_id=speaker.entity_id,
        cue=attribution.cue,
        kind=attribution.kind,
        confidence=round(speaker.confidence * ATTRIBUTION_FACTOR[attribution.method], 3),
        method=f"{METHOD_PREFIX}:{attribution.method}",
    )
