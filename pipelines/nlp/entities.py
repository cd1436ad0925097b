"""Entities across articles: every article's local entities resolved to one stable entity, and to what is known.

`resolve(articles, known, rules)` gives each entity linked within an article (mentions.py) a deterministic
id from its normalized key (keys.py), so every run and machine agrees without a database. Reviewed alias
rules come first; a bare surname joins the one full-named person who bears it, in this batch or in
`known` (what the store already holds); a stored name keeps its id and type.
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
    best_form,
    entity_id_for,
    entity_key,
    is_full_name,
    label_family,
    name_key,
    name_tokens,
    vote,
)
from pipelines.nlp.mentions import ArticleEntities, LocalEntity
from pipelines.records import Entity, EntityAlias, EntityMention

# Votes of one stored name or alias: the store resolved it before, from mentions this batch cannot see.
KNOWN_FORM_WEIGHT = 2.0


class AliasFileError(ValueError):
    """The reviewed alias file is malformed or maps one surface form to two entities."""



@dataclass(frozen=True, slots=True)
class AliasRule:
    """One reviewed entry of the alias file: a canonical name, its type and the forms that mean it."""

    name: str
    type: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AliasRules:
    """Reviewed aliases and merges, looked up by normalized key."""

    by_key: Mapping[str, AliasRule] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KnownEntities:
    """What the store already holds: all `entities` rows and all `entity_aliases` rows (or those sharing a key)."""

    entities: tuple[Entity, ...] = ()
    aliases: tuple[EntityAlias, ...] = ()


NO_KNOWN = KnownEntities()
NO_RULES = AliasRules()


@dataclass(frozen=True, slots=True)
class EntityBatch:
    """Rows for the store: every entity touched by the batch (names may improve: upsert), new aliases, mentions."""

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


@dataclass(frozen=True, slots=True)
class EntityIndex:
    """Lookup tables for resolution: reviewed rules and stored entities by key (ambiguous keys left out)."""

    rules: AliasRules
    known: Mapping[tuple[str, str], Entity]

    def assign(self, form: str, label: str, people: PeopleIndex) -> tuple[str, str]:
        """(entity_id, type) of a form voted `label`; a bare surname joins the one full-named person who bears it."""
        rule = self.rules.by_key.get(name_key(form))
        if rule is not None:
            return entity_id_for(rule.type, rule.name), rule.type
        words = name_tokens(form)
        if label == PERSON and len(words) == 1 and len(candidates := people.candidates(words[0])) == 1:
            return next(iter(candidates)), PERSON
        stored = self.known.get((label_family(label), entity_key(label, form)))
        if stored is not None:
            return stored.entity_id, stored.type
        return entity_id_for(label, form), label


def build_index(known: KnownEntities, rules: AliasRules) -> EntityIndex:
    """Index stored entities by the key of their name and of every alias; a key naming two entities is dropped.

    A full-named person's one-word aliases are left to the people index, which knows when a surname is shared.
    """
    by_id = {entity.entity_id: entity for entity in known.entities}
    forms = [(entity.entity_id, entity.name) for entity in known.entities]
    forms += [
        (alias.entity_id, alias.alias)
        for alias in known.aliases
        if alias.entity_id in by_id and not is_surname_alias(alias.alias, by_id[alias.entity_id])
    ]
    candidates: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entity_id, form in forms:
        entity = by_id[entity_id]
        candidates[(label_family(entity.type), entity_key(entity.type, form))].add(entity_id)
    return EntityIndex(rules, {key: by_id[min(ids)] for key, ids in candidates.items() if len(ids) == 1})


def is_surname_alias(form: str, entity: Entity) -> bool:
    return entity.type == PERSON and len(name_tokens(form)) == 1 and len(name_tokens(entity.name)) > 1


@dataclass(frozen=True, slots=True)
class PeopleIndex:
    """Full-named people by last word and by first word (entity ids), to resolve a one-word mention."""

    by_last: Mapping[str, frozenset[str]] = field(default_factory=dict)
    by_first: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def candidates(self, word: str) -> frozenset[str]:
        """People a one-word name may mean: by surname, else by a family name written first ("Xi")."""
        if word in self.by_last:
            return self.by_last[word]
        return self.by_first.get(word, frozenset())


NO_PEOPLE = PeopleIndex()


def people_index(people: Iterable[tuple[str, str]]) -> PeopleIndex:
    """Index full-named people (entity_id, name); a word shared by two people resolves to neither."""
    by_last: dict[str, set[str]] = defaultdict(set)
    by_first: dict[str, set[str]] = defaultdict(set)
    for entity_id, name in people:
        words = name_tokens(name)
        if len(words) >= 2 and is_full_name(name):
            by_last[words[-1]].add(entity_id)
            by_first[words[0]].add(entity_id)
    return PeopleIndex(
        {word: frozenset(ids) for word, ids in by_last.items()},
        {word: frozenset(ids) for word, ids in by_first.items()},
    )


def batch_votes(locals_: Iterable[LocalEntity], known: KnownEntities) -> dict[str, Counter[str]]:
    """Label votes per name key over the batch and the store; a full-named person also votes for their bare surname."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for local in locals_:
        local_votes = dict(local.votes)
        votes[name_key(local.name)].update(local_votes)
        if vote(local_votes) == PERSON:
            add_surname_vote(votes, local.name, len(local.mentions))
    types = {entity.entity_id: entity.type for entity in known.entities}
    stored = [(entity.name, entity.type) for entity in known.entities]
    stored += [(alias.alias, types[alias.entity_id]) for alias in known.aliases if alias.entity_id in types]
    for form, label in stored:
        votes[name_key(form)][label] += KNOWN_FORM_WEIGHT
        if label == PERSON:
            add_surname_vote(votes, form, KNOWN_FORM_WEIGHT)
    return votes


def add_surname_vote(votes: dict[str, Counter[str]], name: str, weight: float) -> None:
    words = name.split()
    if len(words) >= 2:
        votes[name_key(words[-1])][PERSON] += weight


def resolve(
    articles: Iterable[ArticleEntities], known: KnownEntities = NO_KNOWN, rules: AliasRules = NO_RULES
) -> EntityBatch:
    """Give every local entity its stable id and type; the same inputs always give the same rows.

    Full names are resolved first; bare surnames then look up the full-named people of this batch and of `known`.
    """
    articles = tuple(articles)
    votes = batch_votes((local for article in articles for local in article.entities), known)
    typed = [
        (article.article_id, local, vote(votes[name_key(local.name)]))
        for article in articles
        for local in article.entities
    ]
    index = build_index(known, rules)
    full = {
        position: index.assign(local.name, label, NO_PEOPLE)
        for position, (_, local, label) in enumerate(typed)
        if len(name_tokens(local.name)) > 1
    }
    people = [(e.entity_id, e.name) for e in known.entities if e.type == PERSON]
    people += [(entity_id, typed[i][1].name) for i, (entity_id, label) in full.items() if label == PERSON]
    named_people = people_index(people)
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    types: dict[str, Counter[str]] = defaultdict(Counter)
    mentions = []
    for position, (article_id, local, label) in enumerate(typed):
        entity_id, entity_type = full.get(position) or index.assign(local.name, label, named_people)
        types[entity_id][entity_type] += len(local.mentions)
        forms[entity_id].update(mention.text for mention in local.mentions)
        mentions.extend(
            EntityMention(article_id, entity_id, m.text, m.start_char, m.end_char, m.sentence_index, m.label)
            for m in local.mentions
        )
    stored = {entity.entity_id: entity.name for entity in known.entities}
    reviewed = {entity_id_for(rule.type, rule.name): rule.name for rule in rules.by_key.values()}
    entities = tuple(
        Entity(
            entity_id,
            reviewed.get(entity_id) or best_form(forms[entity_id], stored.get(entity_id)),
            vote(types[entity_id]),
        )
        for entity_id in sorted(forms)
    )
    aliases = tuple(EntityAlias(entity_id, form) for entity_id in sorted(forms) for form in sorted(forms[entity_id]))
    skipped = tuple((a.article_id, a.skip_reason) for a in articles if a.skip_reason is not None)
    return EntityBatch(entities, aliases, tuple(mentions), skipped)


def resolve_name(text: str, label: str, known: KnownEntities = NO_KNOWN, rules: AliasRules = NO_RULES) -> str:
    """The entity id a surface form resolves to, given stored entities: what an analyst's search should use."""
    people = [(entity.entity_id, entity.name) for entity in known.entities if entity.type == PERSON]
    return build_index(known, rules).assign(text, label, people_index(people))[0]

