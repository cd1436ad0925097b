"""Entities across articles: every article's own entities resolved to stable entities by what all articles say.

Resolution is a function of the set of articles, never of how they were batched, sharded or ordered:

- a name's type is the vote of every entity with its name key, plus the PERSON votes full names lend their
  bare surname ("Lavrov" is a person because "Sergey Lavrov" is);
- its id derives from that type's family and the name's normalized key (keys.py), or from a reviewed rule
  of `schemas/entity_aliases.yaml`, which always wins;
- a bare name voted PERSON joins the one full-named person whose last (else first) word it is;
- an entity's type is the vote of its mentions, its name the most frequent full form (keys.canonical_name).

`resolve` computes this in memory over given articles (the stage runs it on each article alone, evaluations on
a corpus); the load computes the same over every stored article, redoing only what a batch changes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.nlp.keys import (
    NAMED_LABELS,
    PERSON,
    canonical_name,
    entity_id_for,
    is_full_name,
    name_key,
    name_tokens,
    vote,
)
from pipelines.nlp.mentions import ArticleEntities, LocalEntity, summarize
from pipelines.records import Entity, EntityAlias, EntityMention


class AliasFileError(ValueError):
    """The reviewed alias file is malformed or maps one surface form to two entities."""


@dataclass(frozen=True, slots=True)
class AliasRule:
    """One reviewed entry of the alias file: a canonical name, its type and the forms that mean it."""

    name: str
    type: str
    aliases: tuple[str, ...] = ()

    @property
    def entity_id(self) -> str:
        return entity_id_for(self.type, self.name)


@dataclass(frozen=True, slots=True)
class AliasRules:
    """Reviewed aliases and merges, looked up by normalized key."""

    by_key: Mapping[str, AliasRule] = field(default_factory=dict)

    def names(self) -> dict[str, str]:
        """Reviewed canonical names by entity id: they win over any form counted in the articles."""
        return {rule.entity_id: rule.name for rule in self.by_key.values()}


NO_RULES = AliasRules()


@dataclass(frozen=True, slots=True)
class EntityBatch:
    """Resolved rows: entities with their names and types, every form seen as an alias, mentions."""

    entities: tuple[Entity, ...]
    aliases: tuple[EntityAlias, ...]
    mentions: tuple[EntityMention, ...]
    skipped: tuple[tuple[str, str], ...]


def load_alias_rules(path: Path) -> AliasRules:
    """Read the reviewed alias file: a list of {name, type, aliases}; a form may belong to one entity only."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise AliasFileError(f"{path}: expected a list of entries")
    by_key: dict[str, AliasRule] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name") or entry.get("type") not in NAMED_LABELS:
            raise AliasFileError(f"{path}: entry needs a name and a type from {sorted(NAMED_LABELS)}: {entry!r}")
        rule = AliasRule(str(entry["name"]), str(entry["type"]), tuple(str(a) for a in entry.get("aliases") or ()))
        for form in (rule.name, *rule.aliases):
            key = name_key(form)
            if by_key.get(key, rule) != rule:
                raise AliasFileError(f"{path}: {form!r} is listed under {by_key[key].name!r} and {rule.name!r}")
            by_key[key] = rule
    return AliasRules(by_key)


# --- what one article's entity tells the others ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameForm:
    """A name as resolution reads it: its key, and the person-key words that link bare names and full names."""

    name: str
    name_key: str
    word: str | None = None  # a one-word name: whose surname (or family name written first) it may be
    first_word: str | None = None  # a full name ("Sergey Lavrov"): the words a bare name may match
    last_word: str | None = None


def name_form(name: str) -> NameForm:
    words = name_tokens(name)
    full = len(words) >= 2 and is_full_name(name)
    one = words[0] if len(words) == 1 else None
    return NameForm(name, name_key(name), one, words[0] if full else None, words[-1] if full else None)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one article's entity adds to resolution across articles: its name, label votes and mention count."""

    form: NameForm
    votes: tuple[tuple[str, float], ...]
    mentions: int

    @property
    def surname_key(self) -> str | None:
        """A full name voted PERSON lends its mentions as PERSON votes to its last word's key ("lavrov")."""
        words = self.form.name.split()
        return name_key(words[-1]) if len(words) >= 2 and vote(dict(self.votes)) == PERSON else None


def evidence_of(local: LocalEntity) -> Evidence:
    return Evidence(name_form(local.name), local.votes, len(local.mentions))


@dataclass(frozen=True, slots=True)
class ArticleEntity:
    """An `article_entities` row: an article's own entity (its mentions by `local_id`, the id the article alone
    gives them), its evidence, and what resolution across all stored articles made of it."""

    article_id: str
    local_id: str
    name: str
    name_key: str
    word: str | None
    first_word: str | None
    last_word: str | None
    surname_key: str | None
    votes: tuple[tuple[str, float], ...]
    mentions: int
    entity_id: str
    type: str

    @classmethod
    def of(cls, article_id: str, local_id: str, evidence: Evidence, entity_id: str, type_: str) -> ArticleEntity:
        form = evidence.form
        return cls(
            article_id,
            local_id,
            form.name,
            form.name_key,
            form.word,
            form.first_word,
            form.last_word,
            evidence.surname_key,
            evidence.votes,
            evidence.mentions,
            entity_id,
            type_,
        )

    @property
    def evidence(self) -> Evidence:
        form = NameForm(self.name, self.name_key, self.word, self.first_word, self.last_word)
        return Evidence(form, self.votes, self.mentions)


def article_entities(mentions: Iterable[tuple[str, str, str, str]]) -> list[ArticleEntity]:
    """Regroup (article_id, local_id, text, label) mentions into their articles' own entities, not yet resolved."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for article_id, local_id, text, label in mentions:
        groups[(article_id, local_id)].append((text, label))
    entities = []
    for (article_id, local_id), forms in sorted(groups.items()):
        name, votes = summarize(forms)
        evidence = Evidence(name_form(name), votes, len(forms))
        entities.append(ArticleEntity.of(article_id, local_id, evidence, local_id, vote(dict(votes))))
    return entities


# --- resolution -----------------------------------------------------------------------------------------


def key_votes(own: Iterable[tuple[str, str, float]], lent: Iterable[tuple[str, float]]) -> dict[str, Counter[str]]:
    """Label votes per name key: (key, label, weight) of its entities, plus (key, mentions) full names lend it."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for key, label, weight in own:
        votes[key][label] += weight  # type: ignore[assignment]  # float vote weights: Counter takes any number, typeshed says int
    for key, mentions in lent:
        votes[key][PERSON] += mentions  # type: ignore[assignment]  # float vote weights: Counter takes any number, typeshed says int
    return votes


def votes_of(evidence: Iterable[Evidence]) -> dict[str, Counter[str]]:
    evidence = list(evidence)
    return key_votes(
        ((item.form.name_key, label, weight) for item in evidence for label, weight in item.votes),
        ((key, item.mentions) for item in evidence if (key := item.surname_key) is not None),
    )


def changed_keys(evidence: Iterable[Evidence]) -> set[str]:
    """The name keys whose votes an entity's arrival or departure changes: its own and its surname's."""
    return {key for item in evidence for key in (item.form.name_key, item.surname_key) if key is not None}


def person_words(forms: Iterable[NameForm]) -> set[str]:
    """Words of full names: a bare name sharing one may mean a different person once these change."""
    return {word for form in forms for word in (form.first_word, form.last_word) if word is not None}


@dataclass(frozen=True, slots=True)
class PeopleIndex:
    """Full-named people by last word and by first word (entity ids), to resolve a one-word name."""

    by_last: Mapping[str, frozenset[str]] = field(default_factory=dict)
    by_first: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def candidates(self, word: str) -> frozenset[str]:
        """People a one-word name may mean: by surname, else by a family name written first ("Xi")."""
        if word in self.by_last:
            return self.by_last[word]
        return self.by_first.get(word, frozenset())


def people_index(people: Iterable[tuple[NameForm, str]]) -> PeopleIndex:
    """Index full names (form, entity_id); a word shared by two people resolves to neither."""
    by_last: dict[str, set[str]] = defaultdict(set)
    by_first: dict[str, set[str]] = defaultdict(set)
    for form, entity_id in people:
        if form.first_word is not None and form.last_word is not None:
            by_last[form.last_word].add(entity_id)
            by_first[form.first_word].add(entity_id)
    return PeopleIndex(
        {word: frozenset(ids) for word, ids in by_last.items()},
        {word: frozenset(ids) for word, ids in by_first.items()},
    )


@dataclass(frozen=True, slots=True)
class Resolver:
    """Names to (entity_id, type), given the votes of their keys and the full-named people sharing their words."""

    rules: AliasRules
    votes: Mapping[str, Mapping[str, float]]
    people: PeopleIndex = field(default_factory=PeopleIndex)

    def assign(self, form: NameForm) -> tuple[str, str]:
        """A reviewed rule; else a bare name voted PERSON joins its one full-named person; else its own key's id."""
        rule = self.rules.by_key.get(form.name_key)
        if rule is not None:
            return rule.entity_id, rule.type
        label = vote(self.votes[form.name_key])
        if label == PERSON and form.word is not None and len(found := self.people.candidates(form.word)) == 1:
            return next(iter(found)), PERSON
        return entity_id_for(label, form.name), label


def make_resolver(rules: AliasRules, votes: Mapping[str, Mapping[str, float]], forms: Iterable[NameForm]) -> Resolver:
    """The resolver whose people are the full names among `forms` that resolve to PERSON (they never need people)."""
    plain = Resolver(rules, votes)
    people = [
        (form, assigned[0]) for form in forms if form.first_word and (assigned := plain.assign(form))[1] == PERSON
    ]
    return Resolver(rules, votes, people_index(people))


def entity_rows(
    types: Mapping[str, Mapping[str, float]], forms: Mapping[str, Mapping[str, int]], rules: AliasRules
) -> tuple[tuple[Entity, ...], tuple[EntityAlias, ...]]:
    """Entities from their totals: type votes (mentions per assigned type) and mention counts per surface form.

    The name is the reviewed one, else the most frequent full form; every form seen is an alias.
    """
    reviewed = rules.names()
    entities = tuple(
        Entity(entity_id, reviewed.get(entity_id) or canonical_name(forms[entity_id]), vote(types[entity_id]))
        for entity_id in sorted(types)
    )
    aliases = tuple(EntityAlias(entity_id, form) for entity_id in sorted(types) for form in sorted(forms[entity_id]))
    return entities, aliases


def resolve(articles: Iterable[ArticleEntities], rules: AliasRules = NO_RULES) -> EntityBatch:
    """Resolve the entities of these articles across them, as the load does across every stored article."""
    articles = tuple(articles)
    linked = [(article.article_id, local, evidence_of(local)) for article in articles for local in article.entities]
    resolver = make_resolver(rules, votes_of(item for *_, item in linked), (item.form for *_, item in linked))
    types: dict[str, Counter[str]] = defaultdict(Counter)
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    mentions: list[EntityMention] = []
    for article_id, local, evidence in linked:
        entity_id, entity_type = resolver.assign(evidence.form)
        types[entity_id][entity_type] += evidence.mentions
        forms[entity_id].update(mention.text for mention in local.mentions)
        mentions.extend(
            EntityMention(article_id, entity_id, m.text, m.start_char, m.end_char, m.sentence_index, m.label)
            for m in local.mentions
        )
    skipped = tuple((a.article_id, a.skip_reason) for a in articles if a.skip_reason is not None)
    return EntityBatch(*entity_rows(types, forms, rules), tuple(mentions), skipped)
