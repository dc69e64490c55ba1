"""Which entity an actual observation is about (SPEC 4.2).

Backstage's own plugins link cluster objects to entities by annotations on the
entity: ``backstage.io/kubernetes-id`` (the same value as the object's label),
``argocd/app-name``, or a label selector in ``argocd/app-selector`` /
``backstage.io/kubernetes-label-selector``. An observation names the
annotation pairs and selector keys that may link it (a declarative mapping's
``link_selectors`` may name any annotation key); when no declared entity
matches, its own fallback ref applies (a declared entity of that name, or a
discovered one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from trueup.model.observation import Observation
from trueup.model.ref import EntityRef

_PREFIX = "metadata.annotations."


@dataclass(frozen=True)
class Selector:
    """A Kubernetes equality-based label selector: ``a=b,c==d,e!=f,g,!h``."""

    equal: tuple[tuple[str, str], ...] = ()
    unequal: tuple[tuple[str, str], ...] = ()
    exists: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return (
            all(labels.get(k) == v for k, v in self.equal)
            and all(labels.get(k) != v for k, v in self.unequal)
            and all(k in labels for k in self.exists)
            and all(k not in labels for k in self.absent)
        )


def parse_selector(text: str) -> Selector | None:
    """Parse a selector; None when empty or malformed (a bad selector links nothing)."""
    equal: list[tuple[str, str]] = []
    unequal: list[tuple[str, str]] = []
    exists: list[str] = []
    absent: list[str] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        if "!=" in part:
            k, _, v = part.partition("!=")
            unequal.append((k.strip(), v.strip()))
        elif "=" in part:
            k, _, v = part.replace("==", "=").partition("=")
            equal.append((k.strip(), v.strip()))
        elif part.startswith("!"):
            absent.append(part[1:].strip())
        elif " " not in part and "(" not in part:
            exists.append(part)
        else:
            return None  # set-based selectors (in/notin) are not supported: link nothing
    if not (equal or unequal or exists or absent):
        return None
    return Selector(tuple(equal), tuple(unequal), tuple(exists), tuple(absent))


class LinkLookup(Protocol):
    """What linking needs to know about the declared entities' annotations."""

    def declared_with(self, pair: tuple[str, str]) -> tuple[EntityRef, ...]:
        """The declared refs (sorted, distinct) one of whose intent observations has the pair."""
        ...

    def selectors_for(self, key: str) -> tuple[tuple[EntityRef, Selector], ...]:
        """One (ref, selector) per intent observation with a valid selector under ``key``,
        sorted by ref."""
        ...


def link_targets(observation: Observation, lookup: LinkLookup) -> tuple[EntityRef, ...]:
    """The entities an actual observation enriches, in a stable order.

    The first step (see :func:`link_steps`) that finds a declared entity decides:
    a link pair that an entity carries, or a selector key whose selectors match
    the observation's labels; else its own ref.
    """
    for step in link_steps(observation):
        if isinstance(step, tuple):
            found = lookup.declared_with(step)
        else:
            found = tuple(
                ref for ref, sel in lookup.selectors_for(step) if sel.matches(observation.labels)
            )
        if found:
            return found
    return (observation.ref,)


def link_steps(observation: Observation) -> list[tuple[str, str] | str]:
    """The link pairs in their order, each selector key right after the last pair of its
    own plugin (the annotation prefix before ``/``), the others after every pair.

    An Argo CD Application links by the entity annotation ``argocd/app-name`` or
    ``argocd/app-selector``, and only else by its ``backstage.io/kubernetes-id``
    label (SPEC 4.2): its selector comes before that label's pair.
    """
    steps: list[tuple[str, str] | str] = list(observation.links)
    for key in observation.selectors:
        plugin = _plugin(key)
        own = [i for i, step in enumerate(steps) if _plugin(_key_of(step)) == plugin]
        steps.insert(own[-1] + 1 if own else len(steps), key)
    return steps


def _key_of(step: tuple[str, str] | str) -> str:
    return step[0] if isinstance(step, tuple) else step


def _plugin(key: str) -> str | None:
    prefix, slash, _ = key.partition("/")
    return prefix if slash else None


def annotation_pairs(fields: Mapping[str, object]) -> Iterator[tuple[str, str]]:
    """The (annotation key, value) pairs of an intent observation's fields that link."""
    for path, value in fields.items():
        if path.startswith(_PREFIX) and isinstance(value, str):
            yield path[len(_PREFIX) :], value


@dataclass
class LinkIndex:
    """Declared entities indexed by the annotations that link cluster objects to them."""

    declared: frozenset[EntityRef]
    by_annotation: Mapping[tuple[str, str], tuple[EntityRef, ...]]
    selectors: Mapping[str, tuple[tuple[EntityRef, Selector], ...]] = field(default_factory=dict)

    def declared_with(self, pair: tuple[str, str]) -> tuple[EntityRef, ...]:
        return self.by_annotation.get(pair, ())

    def selectors_for(self, key: str) -> tuple[tuple[EntityRef, Selector], ...]:
        return self.selectors.get(key, ())

    def targets(self, observation: Observation) -> tuple[EntityRef, ...]:
        """The entities this observation enriches, in a stable order."""
        return link_targets(observation, self)


def build_index(declared: Mapping[EntityRef, Iterable[Mapping[str, object]]]) -> LinkIndex:
    """Index every declared entity's annotations (its intent fields).

    Every annotation that parses as a selector is indexed under its key: which
    keys hold selectors is up to the observations (the built-in collectors and
    the mappings' ``link_selectors``), not to this index.
    """
    by_annotation: dict[tuple[str, str], set[EntityRef]] = defaultdict(set)
    selectors: dict[str, list[tuple[EntityRef, Selector]]] = defaultdict(list)
    for ref, field_sets in declared.items():
        for fields in field_sets:
            for key, value in annotation_pairs(fields):
                by_annotation[(key, value)].add(ref)
                selector = parse_selector(value)
                if selector is not None:
                    selectors[key].append((ref, selector))
    return LinkIndex(
        declared=frozenset(declared),
        by_annotation={k: tuple(sorted(v)) for k, v in by_annotation.items()},
        selectors={k: tuple(sorted(v, key=lambda item: item[0])) for k, v in selectors.items()},
    )
