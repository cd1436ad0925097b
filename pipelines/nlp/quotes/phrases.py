"""Speaker phrases around a cue: the cue words themselves, and the subject, inverted or "according to" source.

The parse decides first (a cue's subject, climbing from "adding" to the verb that has one); where it is
known to fail (inverted "said Putin", a parenthetical "…, said Nagel, …", a document's author) word-order
rules take over. Pure functions over tokens; which region to search is attribution.py's concern.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from pipelines.nlp.lexicon import is_title_word
from pipelines.nlp.quotes.cues import cue_lexicon
from pipelines.nlp.quotes.speakers import SUBJECT_DEPS

if TYPE_CHECKING:
    from spacy.tokens import Token

SOURCE_PHRASES = (("according", "to"), ("in", "the", "words", "of"))  # they name the speaker that follows
SOURCE_PREPOSITIONS = frozenset({"by", "from", "of"})
QUOTED = "quoted"
SAYING = "saying"
FINITE_TAGS = frozenset({"VBD", "VBZ", "VBP"})  # "said Putin" inverts; "highlighting the importance" does not
INVERTED_TAGS = FINITE_TAGS | {"VBN"}  # after a comma the tagger often reads "added KCNA" as a participle
OBJECT_DEPS = frozenset({"dobj", "obj"})
NOMINAL_POS = frozenset({"PROPN", "NOUN", "PRON"})
NOT_SPEAKER_ENTS = frozenset({"DATE", "TIME", "CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY"})
RELATIVE_PRONOUNS = frozenset({"who", "which", "that"})
NOT_SPEAKER_SUBJECTS = frozenset({"that", "this", "these", "those", "what", "there"})  # "that was not her view"
SPEAKER_INNER_POS = frozenset({"DET", "ADJ", "PROPN", "NOUN", "NUM", "PART", "PRON"})
MISTAGGED_NAME_POS = frozenset({"ADV", "VERB", "X", "INTJ"})
NOT_A_VERB_POS = frozenset({"NOUN", "PROPN", "ADJ", "NUM"})
POSSESSIVE_TAGS = frozenset({"POS", "PRP$"})  # "'s" and "his" come before nouns, not verbs
DEMONSTRATIVES = frozenset({"this", "that", "these", "those"})  # "that quote": a noun ("another said" is a verb)
ARTICLES = frozenset({"the", "a", "an"})
QUANTIFIER_HEADS = frozenset({"one", "some", "many", "most", "several", "few", "none", "each", "all", "both", "any"})
SKIPPABLE_BEFORE_CUE = frozenset({"AUX", "ADV", "PART"})  # "Lavrov has also said"
MAX_SUBJECT_HOPS = 2  # "X said …, adding" -> the subject of "said"
MAX_REPORT_HOPS = 4  # from a participle cue ("adding") up to the reporting verb it continues
PARTICIPLE_TAG = "VBG"
MAX_CLAUSE_DEPTH = 12  # head links climbed from a quotation or cue to its sentence's root
NOT_SPEAKERS = NOT_SPEAKER_SUBJECTS | RELATIVE_PRONOUNS | {"it"}  # "it seems", "which is", "there's"
NAMED_POS = frozenset({"PROPN", "PRON"})
HYPHEN_TAG = "HYPH"
MAX_ABBREVIATION_CHARS = 4  # "Lt", "Sgt", "Gov", "Sen": an abbreviated title before its period
CUES = cue_lexicon()
SPEECH_FORMS = CUES.speech
CALL_FORMS = CUES.call
ADJACENT_ONLY_CUES = CUES.adjacent_only
SOURCE_NOUNS = CUES.document_nouns  # a document speaks for its author: "a report by the board"
STATEMENT_NOUNS = CUES.statement_nouns
DOCUMENT_VERB_FORMS = CUES.document_verbs
CHARACTERIZE_FORMS = CUES.characterize
GENERIC_PLURAL_TAG = "NNS"  # "experts", "researchers": bare plurals speak for a usage
CALL_DEMANDS = frozenset({"for", "on"})  # "called for a ban", "called on Congress to …"
PUT_FORMS = frozenset({"put", "puts", "putting"})  # "as one analyst put it": an idiom that reports the wording
DASHES = "―—–-"  # a dash before a name signs a quote: `"…" ― Jane Doe`


def _verb_like(token: Token) -> bool:
    """Not a noun the tagger took for a verb: "his client's answers", "the report"."""
    before = token.nbor(-1) if token.i > 0 else None
    noun_context = before is not None and (
        before.tag_ in POSSESSIVE_TAGS
        or before.lower_ in ARTICLES
        or (before.tag_ == "DT" and before.lower_ in DEMONSTRATIVES)
    )
    return token.pos_ not in NOT_A_VERB_POS and not noun_context


def is_cue(token: Token) -> bool:
    """A reporting verb ("said", "fumed", "was quoted as saying", "called for", "called on")."""
    if not _verb_like(token):
        return False
    if token.lower_ in CALL_FORMS:  # "called for" reports a demand; "called it 'unacceptable'" characterizes
        return token.i + 1 < len(token.doc) and token.nbor().lower_ in CALL_DEMANDS
    if token.lower_ in PUT_FORMS:  # "as X put it", not "she put the report on the table"
        return _as_put_it(token)
    if token.lower_ in DOCUMENT_VERB_FORMS:  # "court filings show", not "she had shown bad judgment"
        return any(c.dep_ in SUBJECT_DEPS and c.lower_ in SOURCE_NOUNS for c in token.children)
    return token.lower_ in SPEECH_FORMS


def _as_put_it(verb: Token) -> bool:
    children = list(verb.children)
    return any(c.dep_ == "mark" and c.lower_ == "as" for c in children) and any(
        c.dep_ in OBJECT_DEPS and c.lower_ == "it" for c in children
    )


def is_characterizing(token: Token) -> bool:
    """A verb that sums something up in someone's words: `called the plan "…"`, `described X as "…"`.

    A generic plural subject states a usage, not what someone said: `researchers call such attacks "…"`,
    `residents, who call the area "…"`.
    """
    return token.lower_ in CHARACTERIZE_FORMS and _verb_like(token) and not _generic_subject(token)


def states_usage(tokens: Sequence[Token]) -> bool:
    """A characterizing verb with a generic plural subject: `researchers call such attacks "…"` names a usage."""
    return any(t.lower_ in CHARACTERIZE_FORMS and _verb_like(t) and _generic_subject(t) for t in tokens)


def _generic_subject(verb: Token) -> bool:
    """A bare plural ("experts") is the verb's subject, directly or through "who" of a relative clause."""
    subjects = [c for c in verb.children if c.dep_ in SUBJECT_DEPS]
    if verb.dep_ == "relcl" and any(c.lower_ in RELATIVE_PRONOUNS for c in subjects):
        subjects.append(verb.head)
    return any(
        s.tag_ == GENERIC_PLURAL_TAG and not any(d.dep_ in ("det", "poss") for d in s.children) for s in subjects
    )


def statement_owner(region: Sequence[Token], quote_first: int) -> tuple[list[Token], str]:
    """The possessor of the nearest statement noun whose phrase holds the quote, and the noun.

    `Lee's claim that "…"`, `her promise to "…"`, `his words, "…"`; not `Lee's speech followed months of "…"`.
    """
    allowed = {t.i for t in region}
    for token in reversed(region):
        if (
            token.lower_ in STATEMENT_NOUNS
            and token.pos_ == "NOUN"
            and token.left_edge.i <= quote_first <= token.right_edge.i
        ):
            possessor = next((c for c in token.children if c.dep_ == "poss" and c.i in allowed), None)
            if possessor is not None:
                return phrase_of(possessor, allowed), token.text
    return [], ""


def signature(tokens: Sequence[Token]) -> list[Token]:
    """`"…" ― Jane Doe`: after a dash, a capitalized name that closes the sentence signs the quote without a cue."""
    phrase = nominal_after(tokens, 0)
    rest = tokens[len(phrase) :]
    named = any(t.pos_ == "PROPN" for t in phrase) and all(t.text[:1].isupper() for t in phrase)
    return phrase if named and all(t.is_punct for t in rest) else []


def mistagged_name(token: Token) -> bool:
    """A capitalized word inside a sentence that the tagger read as an adverb or verb: "said Skelly", rare names."""
    return token.pos_ in MISTAGGED_NAME_POS and token.text[:1].isupper() and not token.is_sent_start


def _mistagged_name_part(token: Token) -> bool:
    """A word of the name phrase the tagger did not tag as one: a participle modifying a noun after it
    ("retired" in "said retired Army Lt. Gen. Mick Bednarek"), or the period of an abbreviated title the
    tokenizer split off ("Lt" ".") before the name goes on."""
    return (token.dep_ == "amod" and token.head.i > token.i) or abbreviation_period(token)


def abbreviation_period(token: Token) -> bool:
    """The period of an abbreviated title that the tokenizer split off it (`Lt` `.` in "Army Lt. Gen. Mick
    Bednarek"): it ends no sentence."""
    doc = token.doc
    if token.text != "." or token.i == 0 or doc[token.i - 1].whitespace_:
        return False
    title = doc[token.i - 1].text
    return len(title) <= MAX_ABBREVIATION_CHARS and title[:1].isupper() and is_title_word(title)


def nominal_after(tokens: Sequence[Token], i: int) -> list[Token]:
    """The noun phrase starting at `tokens[i]` ("said Japanese Prime Minister"), or [] when none starts there."""
    phrase: list[Token] = []
    for token in tokens[i:]:
        if token.ent_type_ in NOT_SPEAKER_ENTS:  # "said Monday"
            break
        if token.pos_ not in SPEAKER_INNER_POS and not mistagged_name(token) and not _mistagged_name_part(token):
            break
        phrase.append(token)
        if token.pos_ == "PRON" and token.tag_ not in POSSESSIVE_TAGS:  # "their attorneys" goes on
            break
    while phrase and (
        (phrase[-1].pos_ not in NOMINAL_POS and not mistagged_name(phrase[-1])) or phrase[-1].tag_ in POSSESSIVE_TAGS
    ):
        phrase.pop()
    return phrase


def nominal_before(tokens: Sequence[Token], i: int) -> list[Token]:
    """The noun phrase ending just before `tokens[i]`, skipping auxiliaries and adverbs ("Lavrov has also said")."""
    j = i - 1
    while j >= 0 and tokens[j].pos_ in SKIPPABLE_BEFORE_CUE:
        j -= 1
    end = j + 1
    while j >= 0 and tokens[j].pos_ in SPEAKER_INNER_POS:
        j -= 1
    phrase = list(tokens[j + 1 : end])
    return phrase if phrase and phrase[-1].pos_ in NOMINAL_POS else []


def phrase_of(head: Token, allowed: set[int]) -> list[Token]:
    """The speaker phrase headed by `head`: its left modifiers and name parts, without relative clauses."""
    left = [t for t in head.subtree if t.i < head.i and t.i in allowed]
    right = [t for t in head.rights if t.dep_ in ("flat", "compound") and t.i in allowed]
    if head.lower_ in QUANTIFIER_HEADS or head.pos_ == "NUM":  # "one of her ads", "two of the senators"
        part = next((c for c in head.rights if c.dep_ == "prep" and c.lower_ == "of"), None)
        if part is not None and all(t.i in allowed for t in part.subtree):
            right += list(part.subtree)
    tokens = sorted({*left, head, *right}, key=lambda t: t.i)
    # keep only the contiguous run that ends at the head: "Morgulov, who …" or a stray left edge is cut
    run = [head]
    for token in reversed([t for t in tokens if t.i < head.i]):
        if not adjacent(token, run[0]) or (token.is_punct and not _inside_word(token)):  # "Al-Maeena" stays whole
            break
        run.insert(0, token)
    run.extend(t for t in tokens if t.i > head.i)
    return run


def adjacent(left: Token, right: Token) -> bool:
    """`left` comes right before `right`, or only whitespace tokens (a non-breaking space) stand between them."""
    doc = left.doc
    return left.i < right.i and all(doc[i].is_space for i in range(left.i + 1, right.i))


def _inside_word(token: Token) -> bool:
    """A hyphen joining two parts of one word ("Al-Maeena", "co-founder"), however the tagger tagged it."""
    return token.tag_ == HYPHEN_TAG or (
        token.text in DASHES and not token.whitespace_ and token.i > 0 and not token.nbor(-1).whitespace_
    )


def subject_of(cue: Token, allowed: Collection[int] = ()) -> Token | None:
    """The grammatical speaker of a cue, climbing from "adding"/"saying" to the verb that has a subject.

    Of two subjects, one in `allowed` (outside quotations) wins: `Ng said on "Meet the Press"`.
    """
    quoted = cue.head.head if cue.head.lower_ == "as" else cue.head
    if cue.lower_ == SAYING and quoted.lower_ == QUOTED:  # "Reuters quoted X as saying" / "X was quoted as saying"
        for dep_set in (OBJECT_DEPS, SUBJECT_DEPS):
            found = next((c for c in quoted.children if c.dep_ in dep_set), None)
            if found is not None:
                return found
    reporter = _reporting_ancestor(cue, allowed) if cue.tag_ == PARTICIPLE_TAG else None
    verb = cue if reporter is None else reporter
    for _ in range(MAX_SUBJECT_HOPS + 1):
        # two subjects ("Malaysia's Prime Minister, Najib Razak said") is a misparsed apposition: the nearer name
        subjects = [
            c
            for c in verb.children
            if c.dep_ in SUBJECT_DEPS
            and c.i != cue.i
            and (c.lower_ not in NOT_SPEAKER_SUBJECTS or verb.dep_ == "relcl")
        ]
        subject = min(subjects, key=lambda c: (c.i not in allowed, c.pos_ != "PROPN", abs(c.i - verb.i)), default=None)
        if subject is not None and subject.pos_ == "ADP":
            subject = _fronted_subject(subject)
        if subject is not None and subject.lower_ in RELATIVE_PRONOUNS and verb.dep_ == "relcl":
            return verb.head  # "Morales, who proceeded to tell his employees" -> Morales
        if subject is not None:
            return subject
        if verb.head is verb:
            break
        verb = verb.head
    return None


def _fronted_subject(preposition: Token) -> Token:
    """`Of Carson, Levine, who …, said`: the parse made the fronted "Of" the subject and took the name after
    the comma for its object; that name speaks. A preposition with no such object stays: "From said" is
    Al From, a name the tagger read as a preposition."""
    doc = preposition.doc
    return next(
        (c for c in preposition.children if c.dep_ == "pobj" and c.i > 0 and doc[c.i - 1].text == ","),
        preposition,
    )


def _reporting_ancestor(participle: Token, allowed: Collection[int] = ()) -> Token | None:
    """`Sanders said the process could be "messy," adding, "…"`: a participle cue with no subject of its own
    continues the report of the nearest reporting verb above it, whatever clause the parser hung it on.

    Never one inside the quotation (outside `allowed`): the parser often hangs the clause before a quote on
    the quote's own verb, and in `…, telling reporters, "A lot of people said …"` the people are what was told.
    """
    if any(c.dep_ in SUBJECT_DEPS for c in participle.children):
        return None
    token = participle
    for _ in range(MAX_REPORT_HOPS):
        if token.head.i == token.i:
            return None
        token = token.head
        if (
            (not allowed or token.i in allowed)
            and token.lower_ in SPEECH_FORMS
            and token.tag_ in FINITE_TAGS
            and any(c.dep_ in SUBJECT_DEPS for c in token.children)
        ):
            return token
    return None


def outermost_subject(token: Token, allowed: Collection[int], named_only: bool = False) -> Token | None:
    """The subject of the outermost clause above `token`: `Cruz said he's certain Rubio will be "…"` -> Cruz.

    Reported speech nests (the quote's own clause has a subject too); its speaker is the one who reports it.
    A name or pronoun is preferred to a common noun ("the use", "state policies") at any depth; with
    `named_only`, a common noun is never the answer.
    """
    subjects: list[Token] = []
    for _ in range(MAX_CLAUSE_DEPTH + 1):
        subjects += [
            c for c in token.children if c.dep_ in SUBJECT_DEPS and c.i in allowed and c.lower_ not in NOT_SPEAKERS
        ]
        if token.head.i == token.i:
            break
        token = token.head
    named = [s for s in subjects if s.pos_ in NAMED_POS]
    chosen = named if named or named_only else subjects
    return chosen[-1] if chosen else None


def speaker_tokens(cue: Token, region: Sequence[Token]) -> list[Token]:
    """The speaker phrase of a cue inside `region`: its subject, else the noun phrase after or before it."""
    allowed = {t.i for t in region}
    subject = subject_of(cue, allowed)
    named_subject = subject is not None and subject.i in allowed and subject.pos_ in ("PROPN", "PRON")
    inverts = cue.lower_ in SPEECH_FORMS  # "said Putin" inverts; "likened the rules to" has an object
    parenthetical = parenthetical_speaker(cue, region) if inverts and not named_subject else []
    if parenthetical:  # "The initiative, said Nagel, …": the parser takes "initiative" for the subject
        return parenthetical
    if subject is not None and subject.i in allowed:
        return source_owner(phrase_of(subject, allowed), region)
    position = next(k for k, t in enumerate(region) if t.i == cue.i)
    inverted = nominal_after(region, position + 1) if inverts and cue.tag_ in FINITE_TAGS else []
    return source_owner(inverted or nominal_before(region, position), region)


def parenthetical_speaker(cue: Token, region: Sequence[Token]) -> list[Token]:
    """ "The initiative, said Nagel, "…"": after a comma, an inverted cue names its speaker right after it."""
    position = next(k for k, t in enumerate(region) if t.i == cue.i)
    if cue.tag_ not in INVERTED_TAGS or (position > 0 and not region[position - 1].is_punct):
        return []
    return nominal_after(region, position + 1)


def source_owner(phrase: list[Token], region: Sequence[Token]) -> list[Token]:
    """ "a statement from the ministry said", "according to a report by the board": the author speaks."""
    if not phrase or phrase[-1].lower_ not in SOURCE_NOUNS:
        return phrase
    possessor = next((c for c in phrase[-1].children if c.dep_ == "poss" and c.pos_ in ("PROPN", "NOUN")), None)
    if possessor is not None:  # "PC World's recent analysis concluded", "the ministry's statement said"
        return phrase_of(possessor, {t.i for t in region})
    after = [k + 1 for k, t in enumerate(region) if t.i == phrase[-1].i and k + 1 < len(region)]
    if after and region[after[0]].lower_ in SOURCE_PREPOSITIONS:
        return nominal_after(region, after[0] + 1) or phrase
    return phrase


def named_source_at(region: Sequence[Token], k: int) -> list[Token]:
    """The X when "according to X" or "in the words of X" starts at `region[k]`, else []."""
    lowers = tuple(t.lower_ for t in region[k : k + max(map(len, SOURCE_PHRASES))])
    for phrase in SOURCE_PHRASES:
        if lowers[: len(phrase)] == phrase:
            return source_owner(nominal_after(region, k + len(phrase)), region)
    return []


def according_to(region: Sequence[Token]) -> list[Token]:
    """The X of the first "according to X" or "in the words of X" in the region, or []."""
    return next(filter(None, (named_source_at(region, k) for k in range(len(region)))), [])
