"""An object refused for a NUL character or a lone surrogate keeps its last good observation.

:func:`~trueup.model.observation.without_unstorable` refuses an observation that would
hold a NUL (PostgreSQL stores none) or a lone surrogate (UTF-8 has none). Dropping
the object with it would lose what was known of it: its entity would lose its
status at this place, or its removal be counted, because of one bad value. So,
as a type that cannot be read keeps its last known objects
(:func:`~trueup.sources.kubernetes.reading.carried_over`) and a catalog file that
cannot be parsed keeps its last good version, a refused object keeps its last
good observation: the one of the same object (its locator without the
resourceVersion) that its caller knows, from the scope's previous snapshot or
the watcher's own last read. It keeps its ``observed_at``, so it turns stale
after ``max_age`` like any object that is no longer read, and the
``invalid-entity`` finding says it is kept (evidence ``kept``: its locator).
An object never observed without one has nothing to keep: the finding alone.

Shared by the export reader, the live reader and the watcher; it imports no
Kubernetes client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from trueup.model.finding import Finding
from trueup.model.observation import Observation, unstorable_field, without_unstorable

LastGood = Callable[[], Iterable[Observation]]


def object_of(locator: str) -> str:
    """``cluster/namespace/Kind/name``: the locator without its ``@resourceVersion``.

    The same object in every read (a context name may hold ``@``, a name may not).
    """
    head, slash, last = locator.rpartition("/")
    return head + slash + last.partition("@")[0]


def without_unstorable_keeping(
    source: str,
    scope: str,
    observations: Sequence[Observation],
    last_good: LastGood,
    *,
    present: Iterable[Observation] = (),
) -> tuple[list[Observation], list[Finding]]:
    """The observations storable, the last good one of each object refused, the findings.

    ``last_good`` gives the candidates, the preferred first; it is called only
    when something is refused (a stored snapshot loads its observations then).
    An object already among ``present`` (carried over otherwise) is not kept twice.
    """
    read, refused = without_unstorable(source, scope, observations)
    if not refused:
        return read, refused
    accepted = {id(o) for o in read}
    # without_unstorable keeps the order: the n-th refused observation has the n-th finding
    objects = [object_of(o.provenance.locator) for o in observations if id(o) not in accepted]
    taken = {object_of(o.provenance.locator) for o in (*read, *present)}
    wanted = set(objects) - taken
    found: dict[str, Observation] = {}
    for candidate in last_good():
        key = object_of(candidate.provenance.locator)
        if key in wanted and key not in found and unstorable_field(candidate) is None:
            found[key] = candidate
            if len(found) == len(wanted):
                break
    findings = [
        kept_finding(f, found[key]) if key in found else f
        for f, key in zip(refused, objects, strict=True)
    ]
    return [*read, *found.values()], findings


def kept_finding(refusal: Finding, kept: Observation) -> Finding:
    """The refusal's finding, saying which last good observation stands in for the object."""
    locator = kept.provenance.locator
    return replace(
        refusal,
        message=f"{refusal.message}; its last good observation ({locator}) is kept",
        evidence={**refusal.evidence, "kept": locator},
    )
