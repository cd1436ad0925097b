"""Attribution by construction rather than by lexicon, and the learned second opinion (issue 28).

Each case runs the pipeline's own parse, entity linking and quote extraction on a short article, as
`newsflow eval quotes` does, so a speaker is checked by the text and entity the pipeline gives it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.evaluation.quotes import article_quotes
from pipelines.nlp.entities import load_alias_rules
from pipelines.nlp.model import load_pipeline, parse
from pipelines.nlp.quotes.learned import MODEL_FILE, QuoteModel, quote_model
from pipelines.nlp.quotes.marks import QuoteSpan
from pipelines.records import ArticleText, Quote

SETTINGS = Settings.from_env()


@pytest.fixture(scope="module")
def nlp():
    return load_pipeline(SETTINGS.spacy_model)


class _Everything:
    """A judge that takes every quotation it is asked about for speech."""

    def accepts(self, span: QuoteSpan, features: object) -> bool:
        return True


class _Nothing:
    def accepts(self, span: QuoteSpan, features: object) -> bool:
        return False


def quotes_of(nlp, text: str, judge=None) -> list[Quote]:
    parsed = next(parse(nlp, [ArticleText("a", text, "en")]))
    return article_quotes(parsed, load_alias_rules(SETTINGS.alias_file), judge)[0]


def speaker_of(nlp, text: str, quote: str) -> Quote:
    found = [q for q in quotes_of(nlp, text) if q.quote_text == quote]
    assert len(found) == 1, [q.quote_text for q in quotes_of(nlp, text)]
    return found[0]


@pytest.mark.parametrize(
    ("text", "quote", "speaker", "method"),
    [
        # a clause after the quote reports it whatever its verb: no lexicon entry for "surmised" or "wondered"
        (
            '"People are afraid of wasting their votes," he surmised after the rally in Concord.',
            "People are afraid of wasting their votes,",
            "he",
            "post-verb",
        ),
        (
            '"Will he be the next attorney general?" a Democratic staffer in the room wondered.',
            "Will he be the next attorney general?",
            "a Democratic staffer",
            "post-verb",
        ),
        # the tagger takes "write" and "states" for nouns: a noun phrase and a verb of saying closing the tail
        (
            '"You seem to have picked a new standard out of thin air," the two write.',
            "You seem to have picked a new standard out of thin air,",
            "the two",
            "post-cue",
        ),
        (
            '"They know she is the only one strong enough to stop Wall Street," a voice-over in the ad states.',
            "They know she is the only one strong enough to stop Wall Street,",
            "a voice-over in the ad",
            "post-cue",
        ),
        # a digest's item names its source after a dash, before the colon
        (
            "IOWA POLLS NOT NECESSARILY WRONG, JUST TOO EARLY - Mark Blumenthal and Jon Cohen: "
            '"Although the polls failed to predict the winner, the signs were there all along."',
            "Although the polls failed to predict the winner, the signs were there all along.",
            "Mark Blumenthal and Jon Cohen",
            "colon",
        ),
        (
            'The trend held in every state -More from Pew Research: "All the samples we evaluated include more '
            'engaged people."',
            "All the samples we evaluated include more engaged people.",
            "Pew Research",
            "colon",
        ),
        # a hyphen inside a word and the title before a name stay in the speaker phrase
        (
            '"You may never be able to prove a negative," CrowdStrike co-founder Dmitri Alperovitch told reporters.',
            "You may never be able to prove a negative,",
            "CrowdStrike co-founder Dmitri Alperovitch",
            "post-cue",
        ),
        # the parse hangs the adjectives under the speaker's head: they are part of the phrase
        (
            '"Climate change was the top priority," the bespectacled, 71-year-old diplomat said on Monday.',
            "Climate change was the top priority,",
            "the bespectacled, 71-year-old diplomat",
            "post-cue",
        ),
        # "one" of a group speaks as the whole phrase, so the group is named
        (
            'The senators met on Tuesday. "There will be no deal this year," said one of the senators.',
            "There will be no deal this year,",
            "one of the senators",
            "post-cue",
        ),
        # a transcript's turn and a source announced by "From"
        (
            'Rep. Trey Gowdy: "Who told you that ninety percent of your emails were in the system?"',
            "Who told you that ninety percent of your emails were in the system?",
            "Rep. Trey Gowdy",
            "colon",
        ),
        (
            'Former secretary of state Hillary Rodham Clinton:"We learned that from the State Department."',
            "We learned that from the State Department.",
            "Former secretary of state Hillary Rodham Clinton",
            "colon",
        ),
        (
            'The board published its findings on Friday. From the report: "Costs rose by a third in two years."',
            "Costs rose by a third in two years.",
            "the report",
            "colon",
        ),
    ],
)
def test_constructions_attribute_without_the_lexicon(nlp, text: str, quote: str, speaker: str, method: str) -> None:
    found = speaker_of(nlp, text, quote)
    assert (found.speaker_text, found.method) == (speaker, f"rules-v1:{method}")


def test_a_participle_cue_continues_the_reporting_verb_above_it(nlp) -> None:
    """ "adding" was parsed under "be", whose subject ("the process") said nothing."""
    text = (
        'Bernie Sanders said the process of writing the platform could be "messy and loud," adding, '
        '"Democracy is messy."'
    )
    assert speaker_of(nlp, text, "Democracy is messy.").speaker_text == "Bernie Sanders"


@pytest.mark.parametrize(
    ("text", "quote", "speaker"),
    [
        (
            '"Lock her up, lock her up," the delegates chanted as Christie spoke.',
            "Lock her up, lock her up,",
            "the delegates",
        ),
        (
            'Trump spoke for an hour. The crowd chanted back at him, "Send them home now."',
            "Send them home now.",
            "The crowd",
        ),
    ],
)
def test_what_a_crowd_chants_is_its_speech(nlp, text: str, quote: str, speaker: str) -> None:
    assert speaker_of(nlp, text, quote).speaker_text == speaker
    assert quotes_of(nlp, text, _Nothing()) == quotes_of(nlp, text)  # the cue lexicon's, not the model's


def test_a_partial_quote_whose_cue_has_a_thing_for_subject_is_the_named_subject_s(nlp) -> None:
    """The parse gives "described" the subject "the past"; the person the sentence is about reports it."""
    text = (
        "Glenn Beck spoke in Iowa on Friday. Beck, who has in the past described Trump as "
        '"a pathological narcissistic sociopath" and worse, cleared his throat.'
    )
    assert speaker_of(nlp, text, "a pathological narcissistic sociopath").speaker_text == "Beck"


def test_a_linking_word_before_a_quote_leaves_it_to_the_speaker_before(nlp) -> None:
    text = '"He is supposed to be a cheerleader for this country," Trump said. Instead, "he acts like a defeated man."'
    assert speaker_of(nlp, text, "he acts like a defeated man.").speaker_text == "Trump"


@pytest.mark.parametrize(
    ("text", "quote", "speaker"),
    [
        (
            '"This is the moment they told us would never happen," Marco Rubio said Monday night. '
            '"They told me we had no chance." His campaign manager struck a similar tune.',
            "They told me we had no chance.",
            "Marco Rubio",
        ),
        # a no-break space between the two parts separates them like a space
        (
            '"France will always be France," an angry Hollande retaliated.\u00a0"It never gives up on its ideals."',
            "It never gives up on its ideals.",
            "an angry Hollande",
        ),
    ],
)
def test_a_quote_ending_its_sentence_is_continued_past_the_next_one(nlp, text: str, quote: str, speaker: str) -> None:
    """The sentence after a quote that ends in a period is not its attribution, nor does it hide the quote."""
    found = speaker_of(nlp, text, quote)
    assert (found.speaker_text, found.method) == (speaker, "rules-v1:continuation")


def test_narration_finishing_a_continued_quote_s_sentence_keeps_its_speaker(nlp) -> None:
    text = (
        '"There are a lot of undercover Trump voters," said Kellyanne Conway, a pollster. '
        '"They agree with him on issues, but they aren\'t there yet" to support him as a candidate.'
    )
    found = speaker_of(nlp, text, "They agree with him on issues, but they aren't there yet")
    assert (found.speaker_text, found.method) == ("Kellyanne Conway", "rules-v1:continuation")
    # a relative clause in that narration belongs to its noun: the sentence is still the quote's
    relative = (
        '"Being candid is the last big hurdle for her," the person added. '
        '"How she deals with it is an open question" in the debate that sank his campaign.'
    )
    found = speaker_of(nlp, relative, "How she deals with it is an open question")
    assert (found.speaker_text, found.method) == ("the person", "rules-v1:continuation")
    # narration with a clause of its own is not the quote's: "That quote … appeared" says who printed it
    other = '"I would rather have a sister in jail than a brother there." That quote appeared on the front page.'
    assert quotes_of(nlp, other) == []


# --- the learned second opinion --------------------------------------------------------------------------------

PERSON_SUBJECT = (
    "Paul Ryan spoke in Janesville on Monday. Ryan worried that the safety net was becoming "
    '"a hammock that lulls able-bodied people to lives of dependency."'
)


def test_a_quotation_no_rule_attributes_is_kept_for_the_person_the_sentence_is_about(nlp) -> None:
    found = speaker_of(nlp, PERSON_SUBJECT, "a hammock that lulls able-bodied people to lives of dependency.")
    assert (found.speaker_text, found.method, found.cue, found.kind) == (
        "Ryan",
        "rules-v1:learned",
        "worried",
        "partial",
    )
    assert found.speaker_entity_id is not None and found.confidence < 0.9
    assert quotes_of(nlp, PERSON_SUBJECT, _Nothing()) == []  # the rules alone do not take it


def test_a_quotation_with_no_speaking_subject_is_the_last_speaker_of_its_paragraph_and_no_other(nlp) -> None:
    said = '"We will fight this bill to the end," Jane Smith said on Monday.'
    line = 'Then came the line of the night: "Nobody in this state will lose a job while I am here."'
    first, second = quotes_of(nlp, f"{said} {line}")
    assert (second.speaker_text, second.method, second.cue) == ("Jane Smith", "rules-v1:learned-paragraph", None)
    assert second.speaker_entity_id == first.speaker_entity_id and second.confidence < first.confidence
    assert quotes_of(nlp, f"{said} {line}", _Nothing()) == [first]  # the rules alone do not take it
    assert quotes_of(nlp, f"{said}\n\n{line}", _Everything()) == [first]  # another paragraph: no speaker


def test_a_transcript_as_follows_speaks_every_paragraph_of_it(nlp) -> None:
    text = (
        "Kasich spoke in Columbus on Tuesday night. Transcript as follows:\n\n"
        '"We are now up 400,000 jobs. We are running a surplus.\n\n"I grew up in a small town near Pittsburgh."'
    )
    assert [(q.quote_text, q.speaker_text, q.method) for q in quotes_of(nlp, text, _Nothing())] == [
        ("We are now up 400,000 jobs. We are running a surplus.", "Transcript", "rules-v1:colon"),
        ("I grew up in a small town near Pittsburgh.", "Transcript", "rules-v1:continuation"),
    ]


def test_a_quotation_a_colon_announces_is_the_clause_subject_s_whoever_it_is(nlp) -> None:
    text = 'A footnote in the report makes that clear: "These assessments do not apply to the system we used."'
    found = speaker_of(nlp, text, "These assessments do not apply to the system we used.")
    assert (found.speaker_text, found.method, found.cue) == ("A footnote", "rules-v1:learned-colon", ":")
    assert quotes_of(nlp, text, _Nothing()) == []  # the rules alone do not take it
    # a subject after its verb presents the quotation and does not say it
    presented = 'Then came the line of the night: "Nobody in this state will lose a job while I am here."'
    assert quotes_of(nlp, presented, _Everything()) == []


@pytest.mark.parametrize(
    "text",
    [
        'Security researchers call such attacks "living off the land techniques".',  # a usage
        'The campaign sold hats reading "Make America Great Again" all summer.',  # a title-cased slogan
        'The menu lists three dishes: "chicken with rice and beans."',  # no person speaks
        'The group is known as "the friends of the earth and sky".',  # a name
    ],
)
def test_what_the_model_may_never_take_even_when_it_accepts_everything(nlp, text: str) -> None:
    assert quotes_of(nlp, text, _Everything()) == []


def test_the_committed_model_is_small_and_well_formed() -> None:
    spec = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert MODEL_FILE.stat().st_size < 64 * 1024 and 0 < spec["threshold"] < 1
    model = quote_model()
    assert model.weights and all(math.isfinite(w) for w in model.weights.values())
    assert model.probability(["qpersonal=True", "qclause=True"]) > model.probability([])


def test_a_broken_model_file_names_the_command_that_rebuilds_it(tmp_path: Path) -> None:
    broken = tmp_path / "model.json"
    broken.write_text('{"weights": {}}', encoding="utf-8")
    with pytest.raises(ValueError, match="make quote-model"):
        quote_model(broken)


def test_the_model_weighs_each_feature_once() -> None:
    model = QuoteModel({"a": 1.0}, 0.0, 0.6)
    assert model.probability(["a", "a"]) == model.probability(["a"]) == 1 / (1 + math.exp(-1))
    assert model.accepts(QuoteSpan(0, 1, 2, 3), ["a"]) and not model.accepts(QuoteSpan(0, 1, 2, 3), [])


@pytest.mark.parametrize(
    ("text", "quote", "speaker"),
    [
        # the parse hangs "telling" on the quote's own "said": its subject ("many people") is what was told
        (
            "The mayor did not seem impressed by the plan on Monday, telling reporters, "
            '"Many people said the council should resign."',
            "Many people said the council should resign.",
            "The mayor",
        ),
        # the parse takes "writing" for the quote's subject: the clause before it has the speaker
        (
            "Guitarist Mike Dean shared the news on social media on Friday, writing \u201cFeels great to support "
            "someone I believe in. He only accepts small donations.\u201d",
            "Feels great to support someone I believe in. He only accepts small donations.",
            "Guitarist Mike Dean",
        ),
        # a quotation mark glued to the word after it is split off by the tokenizer: the quote ends or opens there
        (
            "Clinton spoke in Ohio. \u201cIt has been most surprising to me to see him traffic in prejudice,"
            "\u201dClinton said.",
            "It has been most surprising to me to see him traffic in prejudice,",
            "Clinton",
        ),
        (
            "Ryan met reporters on Tuesday. Ryan said,\u201cLook, those images have no place in a campaign.\u201d",
            "Look, those images have no place in a campaign.",
            "Ryan",
        ),
    ],
)
def test_a_speaker_beside_a_quote_survives_a_misleading_parse_or_a_glued_mark(
    nlp, text: str, quote: str, speaker: str
) -> None:
    assert speaker_of(nlp, text, quote).speaker_text == speaker


@pytest.mark.parametrize(
    ("text", "quote", "speaker", "method"),
    [
        # the tagger reads "Trump" as a verb: a capitalized word inside the sentence is still a name
        (
            '"Jeb wants to be a tough guy tonight," Trump shot back.',
            "Jeb wants to be a tough guy tonight,",
            "Trump",
            "post-verb",
        ),
        # a verb of saying spelled like a noun need not end the tail: a preposition may follow it
        (
            '"The kingdom has worked closely with its allies," the Saudis state in the report, which was '
            "shared with lawmakers on Thursday.",
            "The kingdom has worked closely with its allies,",
            "the Saudis",
            "post-cue",
        ),
        # an inverted cue opening the tail: the parse makes the name the subject of the clause after it
        (
            '"What is shaping up is a battle for the ages," said David Brock, a confidant who heads the group '
            "Correct the Record.",
            "What is shaping up is a battle for the ages,",
            "David Brock",
            "post-cue",
        ),
        (
            '"One guy came in and said maybe we should start fighting back," said the woman, who like many in the '
            "town did not want to be quoted by name.",
            "One guy came in and said maybe we should start fighting back,",
            "the woman",
            "post-cue",
        ),
        # a participle describing the name and an abbreviated title's period the tokenizer split off belong to it
        (
            'The experts were split.\n\n\u201cI fundamentally disagree," said retired Army Lt. Gen. Mick Bednarek, '
            "who served as the chief U.S. military adviser in Iraq.",
            "I fundamentally disagree,",
            "retired Army Lt. Gen. Mick Bednarek",
            "post-cue",
        ),
        # the parse takes the apposition for the subject: the name opening the tail speaks
        (
            "\u201cHe looked me right in the eye and said you need to tell me what does it take to win in this "
            "county,\u201d Deborah Tamargo, the chairwoman of Florida\u2019s Hillsborough County GOP, recalled of a "
            "June conversation she had with Trump at the Tampa Convention Center.",
            "He looked me right in the eye and said you need to tell me what does it take to win in this county,",
            "Deborah Tamargo",
            "post-cue",
        ),
    ],
)
def test_a_tail_the_parse_gets_wrong_still_names_its_speaker(
    nlp, text: str, quote: str, speaker: str, method: str
) -> None:
    found = speaker_of(nlp, text, quote)
    assert (found.speaker_text, found.method) == (speaker, f"rules-v1:{method}")


def test_a_pronoun_before_the_cue_speaks_not_the_noun_before_its_comma(nlp) -> None:
    text = '"The state," he said, "is where we win." And Iowa, he said, "is where we start again."'
    assert {q.quote_text: q.speaker_text for q in quotes_of(nlp, text)}.get("is where we start again.") == "he"


def test_a_fronted_topic_the_parse_made_the_subject_leaves_the_name_after_its_comma_to_speak(nlp) -> None:
    """The parse makes "Of" the subject of "said" and "Levine" its object."""
    text = (
        "Of Carson, Levine, who has given money to Marco Rubio, said, \u201cHe\u2019s flat-out scary. But he\u2019s "
        "totally vapid.\u201d"
    )
    quote = "He\u2019s flat-out scary. But he\u2019s totally vapid."
    assert speaker_of(nlp, text, quote).speaker_text == "Levine"
