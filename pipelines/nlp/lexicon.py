"""Word lists about people's offices and roles, shared by the entity and quote stages.

Entities use the title words to cut an office off a person's name ("President Vladimir Putin"); quotes use
the role nouns to find who "the Russian top diplomat" is from the titles an article gave earlier. Keeping
them in one module means a new office is added once, where both stages see it.
"""

from __future__ import annotations

from collections.abc import Mapping

# Words that precede a person's name as office or form of address and are not part of the name itself.
# Royal and religious styles ("King", "Pope") are left out: there the style is how the person is named.
TITLE_WORDS = frozenset(
    [
        "president",
        "vice",
        "prime",
        "minister",
        "ministers",
        "foreign",
        "interior",
        "defence",
        "defense",
        "finance",
        "deputy",
        "secretary",
        "general",
        "chancellor",
        "premier",
        "senator",
        "sen",
        "rep",
        "representative",
        "congressman",
        "congresswoman",
        "governor",
        "gov",
        "mayor",
        "ambassador",
        "envoy",
        "diplomat",
        "spokesman",
        "spokeswoman",
        "spokesperson",
        "chairman",
        "chairwoman",
        "chair",
        "ceo",
        "cfo",
        "chief",
        "director",
        "head",
        "leader",
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "professor",
        "sir",
        "dame",
        "lord",
        "lady",
        "col",
        "colonel",
        "lt",
        "capt",
        "captain",
        "sgt",
        "sergeant",
        "commander",
        "admiral",
        "judge",
        "justice",
        "attorney",
        "officer",
        "official",
        "top",
        "former",
        "acting",
        "opposition",
        "lawmaker",
        "mp",
        "coach",
    ]
)
# A role noun's head may be named differently in the text that introduced the person: each option is a set
# of title words that must all be present ("the Russian leader" -> "President", or "Prime Minister", ...).
ROLE_SYNONYMS: Mapping[str, tuple[frozenset[str], ...]] = {
    "leader": (
        frozenset({"president"}),
        frozenset({"premier"}),
        frozenset({"prime", "minister"}),
        frozenset({"chancellor"}),
        frozenset({"leader"}),
    ),
    "diplomat": (
        frozenset({"diplomat"}),
        frozenset({"foreign", "minister"}),
        frozenset({"foreign", "secretary"}),
        frozenset({"external", "minister"}),
        frozenset({"ambassador"}),
        frozenset({"envoy"}),
        frozenset({"secretary", "state"}),
    ),
    "premier": (frozenset({"premier"}), frozenset({"prime", "minister"})),
    "envoy": (frozenset({"envoy"}), frozenset({"ambassador"})),
}
# Modifiers that rank within a role and may be dropped when the role is repeated ("the top diplomat").
SOFT_MODIFIERS = frozenset({"top", "chief", "senior", "former", "new", "acting", "veteran", "then"})
# Organisation nouns that, definite and unmodified ("the ministry said"), refer back to an organisation like "it".
GENERIC_ORG_NOUNS = frozenset(
    {
        "company",
        "firm",
        "group",
        "corporation",
        "bank",
        "agency",
        "organisation",
        "organization",
        "ministry",
        "department",
        "carrier",
        "airline",
        "automaker",
        "retailer",
        "insurer",
        "lender",
        "maker",
        "club",
        "party",
        "union",
        "government",
        "administration",
        "regulator",
        "court",
        "board",
        "committee",
        "council",
    }
)
# Demonyms whose first letters differ from the country's name ("Russian"/"Russia" need no entry).
DEMONYMS: Mapping[str, str] = {
    "french": "france",
    "dutch": "netherlands",
    "spanish": "spain",
    "polish": "poland",
    "irish": "ireland",
    "danish": "denmark",
    "finnish": "finland",
    "welsh": "wales",
    "american": "us",
    "british": "uk",
    "britain": "uk",
    "america": "us",
    "filipino": "philippines",
    "swiss": "switzerland",
    "scottish": "scotland",
    "greek": "greece",
    "cypriot": "cyprus",
    "czech": "czechia",
    "soviet": "ussr",
    "emirati": "uae",
}


def is_title_word(word: str) -> bool:
    """An office word, also inside a hyphenated compound ("Vice-President") and with a trailing period ("Sen.")."""
    return any(part in TITLE_WORDS for part in word.lower().strip(".,").split("-"))
