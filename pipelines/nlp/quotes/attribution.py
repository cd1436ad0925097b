"""Whether a quoted span is speech, and who said it: the speech cue and the speaker phrase around it.

Each span is attributed from its own sentence: a cue after it (`"…," Lavrov said.`, `— said Putin.`,
`", according to X.`, `"…" ― Jane Doe`), any verb of a short clause after a quotation that opens its sentence
(`"…," Trump barked.`: the construction reports speech, whatever the lexicon lists), a noun phrase and a verb
of saying the tagger took for a noun closing that clause (`"…," the two write.`), a cue before it (`X said:
"…"`, `According to X, "…"`), a name alone before a colon (`Rep. Gowdy: "…"`, `From the report: "…"`, a
digest's `… - Pew Research: "…"`), a
reporting or characterizing verb or statement noun whose clause holds it (`X vowed to "…"`, `X called
the plan "…"`, `X's claim that "…"`), a statement announced before a colon (`X issued a statement: "…"`), a closing
`…, X said.` for a quoted clause, the attributed quote right before it (`"…," he said. "…"`) or the
reported statement right before it (`Ortiz noted … . "…"`). Cue words come from schemas/cue_verbs.yaml
(cues.py); what a colon announces, colons.py. A quoted fragment with no speech context, a title-cased name
or a term introduced by "so-called"/"dubbed"/"known as" is not a quote (regions.py). The phrase found is
handed to speakers.py to resolve; what no rule takes, learned.py may."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipelines.nlp.quotes.colons import colon_statement, labelled
from pipelines.nlp.quotes.marks import Layout
from pipelines.nlp.quotes.phrases import (
    ADJACENT_ONLY_CUES,
    CALL_FORMS,
    DASHES,
    DOCUMENT_VERB_FORMS,
    FINITE_TAGS,
    INVERTED_TAGS,
    NAMED_POS,
    NOT_SPEAKER_SUBJECTS,
    RELATIVE_PRONOUNS,
    SPEAKER_INNER_POS,
    SPEECH_FORMS,
    according_to,
    adjacent,
    is_characterizing,
    is_cue,
    mistagged_name,
    named_source_at,
    nominal_after,
    outermost_subject,
    parenthetical_speaker,
    phrase_of,
    signature,
    speaker_tokens,
    statement_owner,
)
from pipelines.nlp.quotes.regions import (
    COLON_OR_COMMA,
    DIRECT,
    VERBAL_POS,
    breaks_clause,
    head_region,
    is_named_term,
    looks_like_name,
    quote_kind,
    quotes_a_clause,
    tail_region,
    words_of,
)
from pipelines.nlp.quotes.speakers import (
    SUBJECT_DEPS,
    WORD_RE,
    Context,
    Speaker,
    SpeakerLog,
    resolve_speaker,
)

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token


ACCORDING_CUE = "according to"
MAX_TAIL_CUE_WORDS = 20  # `"…," Khaled Al-Maeena, editor at large at the Saudi Gazette, said.`
BETWEEN_PARTS = " \t\n\u00a0.,;"  # what may separate two parts of one quotation (a no-break space too)

# fragments that are names or scare quotes, not speech
MIN_EMBEDDED_WORDS = 3  # `vowed efforts to "overcome the differences …"`, not `called it "unacceptable"`

# how direct each attribution method is: a quote's confidence is its speaker's times this
ATTRIBUTION_FACTOR: Mapping[str, float] = {
    "post-cue": 1.0,
    "post-verb": 0.9,
    "pre-cue": 1.0,
    "according-to": 1.0,
    "embedded": 0.9,
    "continuation": 0.9,
    "after-statement": 0.8,
    "dash": 0.9,
    "sentence-end": 0.9,
    "colon": 0.8,
    "learned": 0.8,
    "learned-colon": 0.6,  # its speaker agreed with the gold 12 times in 16 on train (learned.py)
    "learned-paragraph": 0.6,  # its speaker agreed with the gold 73 % of the time on train (learned.py)
}
SPEECH_ENDINGS = frozenset(",?!")  # a quotation ending in one of these leaves its sentence open for the attribution
SPEAKER_HEAD_POS = frozenset({"PROPN", "PRON", "NOUN"})
CLOSING_SPEAKER_POS = SPEAKER_HEAD_POS | {"NUM"}  # "the two write"
NOT_TAIL_SPEAKERS = NOT_SPEAKER_SUBJECTS | RELATIVE_PRONOUNS  # "which led to"; "it" warned may be a company
LINKING_POS = frozenset({"ADV", "CCONJ", "SCONJ", "INTJ"})  # "Instead,", "And then", "But"
INLINE_SPACE = " \t\u00a0"
_INLINE_SPACE_RUN = re.compile(f"[{INLINE_SPACE}]*")
# a paragraph that is only a dash and a name of a few words, right after a quotation's paragraph
_SIGNATURE_BELOW = re.compile(
    rf"\n\s*(?P<dash>[―—–-])[{INLINE_SPACE}]*(?P<name>[^\W\d_][^\n]{{0,60}}?)[{INLINE_SPACE}.]*(?:\n|$)"
)
SENTENCE_END = "sentence-end"
Found = tuple[list["Token"], str, str]  # speaker phrase, cue text, method


@dataclass(frozen=True, slots=True)
class Attribution:
    """Why a span is a quote: the cue word, the speaker, how they were found and the quote's kind."""

    speaker: Speaker
    cue: str | None  # None: no word cued it (the learned second opinion's paragraph speaker)
    method: str
    kind: str
    region_end: int  # char index where the quote and its attribution end; a following quote may continue it


def _reports_own_clause(cue: Token, owner: Sequence[int]) -> bool:
    """ "The leader added that …" after a quote reports a new statement instead of attributing the quote.

    Only a complement the cue runs into counts: in `X told Y, after he admitted he …` it is a misparsed clause.
    """
    doc = cue.doc
    for clause in cue.children:
        if (
            clause.dep_ == "ccomp"
            and clause.i > cue.i
            and owner[clause.left_edge.i] < 0
            and not any(doc[i].is_punct for i in range(cue.i + 1, clause.left_edge.i))
        ):
            return True
    return False


def _cue_introduces(cue: Token, head: Sequence[Token]) -> bool:
    """ "X said: “…”", "X told journalists, “…”": only the cue's own objects stand between it and the quote."""
    if head[-1].i == cue.i:
        return True
    if head[-1].text not in COLON_OR_COMMA:
        return False
    between = [t for t in head if cue.i < t.i < head[-1].i]
    return all(t.pos_ in SPEAKER_INNER_POS or t.pos_ == "ADP" for t in between)


@functools.cache
def _event_cue_ids() -> frozenset[int]:
    """spaCy's ids of the lower-case forms that may be a reporting verb of an event (ADJACENT_ONLY_CUES are not)."""
    from spacy.strings import hash_string  # type: ignore[attr-defined]  # spaCy's stub of spacy.strings omits it

    forms = (SPEECH_FORMS - ADJACENT_ONLY_CUES) | CALL_FORMS | DOCUMENT_VERB_FORMS
    return frozenset(hash_string(form) for form in forms)


@dataclass(frozen=True, slots=True)
class Event:
    """A reporting verb outside quotes and its resolved speaker."""

    cue: int  # token index
    speaker: Speaker


def reported_speech(doc: Doc, owner: Sequence[int], context: Context) -> list[Event]:
    """Every reporting verb outside quotes with its speaker, in reading order; later pronouns refer back to them."""
    from spacy.attrs import LOWER

    events: list[Event] = []
    found = SpeakerLog()  # a transcript has thousands of events: each reads only its neighbourhood's
    words = _event_cue_ids()
    for i, word in enumerate(doc.to_array(LOWER).tolist()):  # token objects only for the few cue words
        if word not in words or owner[i] >= 0 or not is_cue(token := doc[i]):
            continue
        region = [t for t in token.sent if owner[t.i] < 0 and not t.is_space]
        phrase = speaker_tokens(token, region)
        if phrase:
            events.append(Event(token.i, resolve_speaker(phrase, found.near(token.idx), context)))
            found.add(events[-1].speaker, token.idx)
    return events


def _opens_tail(phrase: list[Token], cue: Token, tail: Sequence[Token]) -> list[Token] | None:
    """The speaker phrase when the attribution opens the clause after the quote (`"…," Lavrov said`), else None.

    Capitalized words the parser left out before the phrase ("Denver fire Chief Ana Ruiz") belong to it; the
    cue's own "as" (`"…," as one engineer put it`) opens the attribution.
    """
    before = words_of(t for t in tail if t.i < min(phrase[0].i, cue.i) and not (t.dep_ == "mark" and t.head.i == cue.i))
    if not before:
        return phrase
    if phrase[0].i > cue.i:
        return None
    # words the parse hung under the speaker's head: "the bespectacled, 71-year-old diplomat"
    if phrase[-1].left_edge.i <= before[0].i:
        return [*(t for t in tail if before[0].i <= t.i < phrase[0].i and not t.is_space), *phrase]
    chained = all(adjacent(a, b) for a, b in zip(before, [*before[1:], phrase[0]], strict=True))
    # "Denver fire Chief Ana Ruiz", "screenwriter Cole Haddon": a title or name run straight into the phrase
    nominal = all(t.text[:1].isupper() or t.pos_ in SPEAKER_INNER_POS for t in before)
    return [*before, *phrase] if chained and nominal else None


def _opening_name(tail: Sequence[Token], cue: Token) -> list[Token]:
    """`"…," Ortiz, a former aide, said`: the name opening the tail, when the parse hung it elsewhere."""
    phrase = nominal_after(tail, 0)
    named = any(t.pos_ in ("PROPN", "PRON") for t in phrase)
    return (
        phrase if named and phrase[-1].i < cue.i and len(phrase) < len(tail) and tail[len(phrase)].text == "," else []
    )


def _closes_sentence(phrase: list[Token], cue: Token, tail: Sequence[Token]) -> bool:
    """`The plan would "…" by spring, the mayor said.`: ", X said" ends the sentence the quote is in."""
    start = min(phrase[0].i, cue.i)
    comma = [t for t in tail if t.i == start - 1 and t.text == ","]
    rest = [t for t in tail if t.i > max(cue.i, phrase[-1].i)]
    clause = next((rest[:n] for n, t in enumerate(rest) if t.text == ","), rest)  # ", referencing …" may follow
    return bool(comma) and not any(t.pos_ in VERBAL_POS for t in clause)


def _signed(layout: Layout, k: int, tail: Sequence[Token]) -> Found | None:
    """`"…" ― Jane Doe` (the tokenizer may glue the dash to the closing mark): the name after the dash signs it.

    A quotation that ends its paragraph may be signed by the next one, a dash and a name alone (the
    fact-check's `"…"` ¶ `- Bernie Sanders.`).
    """
    closed = layout.spans[k].close_end
    spaces = _INLINE_SPACE_RUN.match(layout.text, closed)  # matched in place: not a copy of the text's rest
    after = spaces.end() if spaces else closed
    dash = layout.text[after : after + 1]
    if not tail and (below := _SIGNATURE_BELOW.match(layout.text, after)) is not None:
        line = layout.doc.char_span(below.start("name"), below.end("name"), alignment_mode="expand")
        name = signature([t for t in line if t.text.strip(DASHES)]) if line is not None else []
        return (name, below["dash"], "dash") if name else None
    if not dash or dash not in DASHES:
        return None
    name = signature([t for t in tail if t.text.strip(DASHES)])
    return (name, dash, "dash") if name else None


def _after(layout: Layout, k: int, head: Sequence[Token], tail: Sequence[Token]) -> Found | None:
    """`"…," Lavrov said` / `"…," said Putin` / `"…", according to X` / `"…" ― Jane Doe`, or `"…" …, X said.`."""
    words = words_of(tail)
    according = named_source_at(words, 0)
    if according:
        return according, ACCORDING_CUE, "post-cue"
    # A word inside a quoted title (`on "Say Yes To The Dress," the host said`) is never the cue: the speaker
    # is looked for in the narration around it.
    cue = next((t for t in words[:MAX_TAIL_CUE_WORDS] if is_cue(t) and layout.owner[t.i] < 0), None)
    if cue is None:
        signed = _signed(layout, k, tail)
        if signed is not None or words_of(head):
            return signed
        return _reporting_clause(layout, k, tail) or _closing_cue(layout, k, tail)
    inverted = _inverted_speaker(tail, cue)
    if inverted:
        return inverted, cue.text, "post-cue"
    if _reports_own_clause(cue, layout.owner):
        return None
    narrated = [t for t in tail if layout.owner[t.i] < 0]
    phrase = speaker_tokens(cue, narrated) or _opening_name(narrated, cue)
    if not phrase:
        return None
    opening = _opens_tail(phrase, cue, tail)
    if opening is None and phrase[-1].pos_ != "PRON":  # `"…" South Carolina, he said, was "…"`: "he" speaks
        # `"…," Deborah Tamargo, the chairwoman of …, recalled`, `"…," Ramos, 58, told AFP`: the parse took an
        # apposition for the subject, or the listener for the speaker
        opening = _opening_name(narrated, cue)
    if opening:
        return opening, cue.text, "post-cue"
    return (phrase, cue.text, SENTENCE_END) if _closes_sentence(phrase, cue, tail) else None


def _inverted_speaker(tail: Sequence[Token], cue: Token) -> list[Token]:
    """`"…," said David Brock, a Clinton confidant who …`: a finite cue opening the tail, then a noun phrase that
    a comma or the tail's end closes, is the inverted attribution, however the parser hung the clauses after it
    (it often makes the name the subject of the relative or participle clause that follows)."""
    words = words_of(tail)
    if not words or words[0].i != cue.i or cue.tag_ not in FINITE_TAGS:
        return []
    phrase = parenthetical_speaker(cue, tail)
    rest = [t for t in tail if phrase and t.i > phrase[-1].i]
    return phrase if phrase and (not rest or rest[0].text == ",") else []


def _leaves_sentence_open(layout: Layout, k: int, tail: Sequence[Token]) -> bool:
    """Quotation k ends in a comma, ? or ! (inside its marks or right after them): its attribution may follow."""
    return layout.text[layout.spans[k].end - 1] in SPEECH_ENDINGS or bool(tail and tail[0].text == ",")


def _reporting_clause(layout: Layout, k: int, tail: Sequence[Token]) -> Found | None:
    """`"…," Trump barked.`, `"…?" a staffer wondered`: after a quote opening its sentence and ending in a comma,
    ? or !, a clause whose verb governs the quote and whose subject opens it (or follows it) attributes the quote,
    whatever the verb: the construction says it reports speech, so the cue lexicon need not list every verb of
    saying. Where the parse gives the verb no subject, word order does: a noun phrase, then the verb."""
    if not _leaves_sentence_open(layout, k, tail):
        return None
    owner = layout.owner
    words = words_of(tail)[:MAX_TAIL_CUE_WORDS]
    verb = next((t for t in words if t.pos_ in VERBAL_POS and t.tag_ in INVERTED_TAGS), None)
    if verb is None or not (verb.head.i == verb.i or owner[verb.head.i] == k) or _reports_own_clause(verb, owner):
        return None
    narrated = [t for t in tail if owner[t.i] < 0]
    phrase = speaker_tokens(verb, narrated) if verb.tag_ in FINITE_TAGS else []
    opening = _opens_tail(phrase, verb, tail) if phrase else None
    if opening is None:  # `"…," Trump barked`, with "Trump" parsed as a compound of a participle
        named = nominal_after(words, 0)
        opening = named if named and words[len(named)].i == verb.i else None
    if not opening or opening[-1].lower_ in NOT_TAIL_SPEAKERS:
        return None
    if opening[-1].pos_ not in SPEAKER_HEAD_POS and not mistagged_name(opening[-1]):  # `"…," Trump shot back`
        return None
    return opening, verb.text, "post-verb"


def _closing_cue(layout: Layout, k: int, tail: Sequence[Token]) -> Found | None:
    """`"…," the two write.`, `"…," a voice-over in the ad states.`, `"…," the Saudis state in the white paper`:
    after a quotation ending in a comma, ? or !, a noun phrase and then a speech verb closing the clause (the
    tail ends, or a preposition or punctuation follows) attribute it, though the tagger took the verb for a noun
    (write, states, notes, claims, reports: English spells many verbs of saying like nouns)."""
    if not _leaves_sentence_open(layout, k, tail):
        return None
    words = words_of(tail)[:MAX_TAIL_CUE_WORDS]
    cue = next((t for t in words[1:] if t.lower_ in SPEECH_FORMS), None)
    if cue is None or (cue.i + 1 < len(layout.doc) and not _closes_clause(layout.doc[cue.i + 1])):
        return None
    phrase = [t for t in tail if words[0].i <= t.i < cue.i]
    nominal = phrase[0].pos_ in SPEAKER_INNER_POS and phrase[-1].pos_ in CLOSING_SPEAKER_POS  # not "in two states"
    if not nominal or any(t.pos_ in VERBAL_POS or t.text in COLON_OR_COMMA for t in phrase):
        return None
    return phrase, cue.text, "post-cue"


def _closes_clause(token: Token) -> bool:
    """What may follow a verb of saying that ends its clause: punctuation, a paragraph, a preposition."""
    return token.is_punct or token.is_space or token.pos_ == "ADP"


def _before(quote_text: str, head: Sequence[Token], quote_first: int) -> Found | None:
    """`According to X, "…"`, `X said: "…"`, a fragment inside a reported or characterizing sentence
    (`X vowed to "…"`, `X called the plan "…"`, `X's claim that "…"`), or `X issued a statement: "…"`."""
    according = according_to(head)
    if according:
        return according, ACCORDING_CUE, "according-to"
    authored = colon_statement(head, authored_only=True) or labelled(head)  # the author, not who handled it
    if authored:
        return authored, ":", "colon"
    long_enough = len(WORD_RE.findall(quote_text)) >= MIN_EMBEDDED_WORDS
    cues = [t for t in reversed(head) if is_cue(t) or is_characterizing(t)]
    if not cues:
        owner, noun = statement_owner(head, quote_first) if long_enough else ([], "")
        if owner:
            return owner, noun, "embedded"
        subject = colon_statement(head)
        return (subject, ":", "colon") if subject else None
    cue = cues[0]
    if is_cue(cue) and _cue_introduces(cue, head):
        phrase = speaker_tokens(cue, head)
        return (phrase, cue.text, "pre-cue") if phrase else None
    if not long_enough or cue.lower_ in ADJACENT_ONLY_CUES:
        return None
    # the nearest cue whose speaker the parse finds: "Ortiz said, going on to say that … "…""
    found = next(((phrase, c) for c in cues if (phrase := speaker_tokens(c, head))), None)
    if found is None:
        return None
    phrase, cue = found
    if phrase[-1].pos_ not in NAMED_POS:  # "the agreement goes "…""
        named = outermost_subject(cue, {t.i for t in head}, named_only=True)
        phrase = phrase_of(named, {t.i for t in head}) if named is not None else phrase
    return phrase, cue.text, "embedded"


def _previous_sentence_event(layout: Layout, k: int, events: Sequence[Event]) -> Event | None:
    """For a quote standing alone, the reporting verb of the sentence just before it ("Ortiz noted …. "…"")."""
    doc, owner = layout.doc, layout.owner
    i = layout.first[k] - 1
    while i >= 0 and doc[i].is_space:
        i -= 1
    if i < 0 or owner[i] >= 0:
        return None
    start = i - 1
    while start >= 0 and owner[start] < 0 and not breaks_clause(doc[start]):
        start -= 1
    return next((e for e in reversed(events) if start < e.cue < i), None)


def _found(layout: Layout, k: int, quote_text: str, head: Sequence[Token], tail: Sequence[Token]) -> Found | None:
    """A cue beside the quote, else one in the clause before it; `…, X said.` closing the sentence comes last,
    and only for a quoted clause: a quoted noun phrase there is a name or a scare quote.

    A fragment closing its sentence (`Peru branded it "a rogue state." Chile insisted …`) takes no cue after it.
    """
    closed = bool(words_of(head)) and layout.ends_sentence(k)
    beside = _signed(layout, k, tail) if closed else _after(layout, k, head, tail)
    if beside is not None and beside[2] != SENTENCE_END:
        return beside
    found = _before(quote_text, head, layout.first[k])
    if found is None and beside is not None and quotes_a_clause(layout, k):
        return beside
    return found


def _narrates(head: Sequence[Token]) -> bool:
    """The clause before a quote says something of its own; `Instead, "…"` or `Then, "…"` only links it."""
    return any(t.pos_ not in LINKING_POS for t in words_of(head))


def _clause_of_its_own(words: Sequence[Token]) -> bool:
    """Narration after a quote that says something of its own (a verb with its subject heading the narration),
    not one finishing the quote's sentence (`… yet" to support him as a candidate`, `… go after" Osama bin
    Laden`, `… an open question" in the debate that sank his campaign`: a relative clause is its noun's)."""
    inside = {t.i for t in words}
    return any(
        t.pos_ in VERBAL_POS
        and (t.head.i == t.i or t.head.i not in inside)
        and any(c.dep_ in SUBJECT_DEPS for c in t.children)
        for t in words
    )


def _own_sentence(layout: Layout, k: int, tail: Sequence[Token]) -> Sequence[Token]:
    """The tail that is still quote k's sentence: none when the quote ends its sentence and a new one starts."""
    return [] if layout.ends_sentence(k) and tail and tail[0].text[:1].isupper() else tail


# What extraction asks when no rule attributed a quotation: (head, tail, speakers, region_end) -> an attribution
SecondOpinion = Callable[[Sequence["Token"], Sequence["Token"], Sequence[Speaker], int], "Attribution | None"]


def attribute(
    layout: Layout,
    k: int,
    previous: Attribution | None,
    earlier: Sequence[Speaker],
    events: Sequence[Event],
    context: Context,
    second_opinion: SecondOpinion | None = None,
) -> Attribution | None:
    """Attribute quote k: the clause after it, the clause before it, then the quote or statement it follows;
    where no rule does, `second_opinion` (learned.py) may, with the regions and speakers found here. Names and
    titles in quote marks go to neither."""
    span = layout.spans[k]
    quote_text = layout.text[span.start : span.end]
    head, tail = head_region(layout, k), tail_region(layout, k)
    if is_named_term(head) or looks_like_name(quote_text, head):
        return None
    region_end = tail[-1].idx + len(tail[-1].text) if tail else span.close_end
    speakers = [*earlier, *(e.speaker for e in events if e.speaker.start_char < span.open_start)]
    ruled = _by_rules(layout, k, quote_text, previous, head, tail, speakers, region_end, events, context)
    if ruled is not None or second_opinion is None:
        return ruled
    return second_opinion(head, tail, speakers, region_end)


def _by_rules(
    layout: Layout,
    k: int,
    quote_text: str,
    previous: Attribution | None,
    head: Sequence[Token],
    tail: Sequence[Token],
    speakers: Sequence[Speaker],
    region_end: int,
    events: Sequence[Event],
    context: Context,
) -> Attribution | None:
    doc, span = layout.doc, layout.spans[k]
    found = _found(layout, k, quote_text, head, tail)
    if found is not None:
        phrase, cue, method = found
        return Attribution(
            resolve_speaker(phrase, speakers, context), cue, method, quote_kind(head, method), region_end
        )
    completion = words_of(_own_sentence(layout, k, tail))
    if _narrates(head) or _clause_of_its_own(completion):
        return None
    linked_from = head[0].idx if head else span.open_start  # a head here only links ("Instead,")
    if previous is not None and not layout.text[previous.region_end : linked_from].strip(BETWEEN_PARTS):
        # `"…," Conway said. "They aren't there yet" to support him.`: narration may finish the sentence
        return Attribution(previous.speaker, previous.cue, "continuation", DIRECT, span.close_end)
    if completion:
        return None
    event = _previous_sentence_event(layout, k, events)
    if event is not None:
        return Attribution(event.speaker, doc[event.cue].text, "after-statement", DIRECT, span.close_end)
    return None
