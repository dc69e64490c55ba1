"""The one shape every check has: the Check protocol, what a check sees, its plugin.

A check is built by its plugin's factory from its own settings (``checks.<name>:``
in the configuration, a :class:`~trueup.config_model.CheckConfig` model the
plugin owns) and run by the assembler on every drafted entity. The registry
(:mod:`trueup.plugins`) finds plugins through the ``trueup.checks`` entry points.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar

from trueup.config_model import CheckConfig
from trueup.model.assembled import PlaceStatus
from trueup.model.emission import DEFAULT_POLICY, EmissionPolicy
from trueup.model.finding import Finding, Severity
from trueup.model.ref import EntityRef
from trueup.model.repository import Head

ContextT = TypeVar("ContextT")
DerivedT = TypeVar("DerivedT")


@dataclass(frozen=True, slots=True)
class Draft:
    """A merged entity as the checks see it."""

    ref: EntityRef
    entity: Mapping[str, Any]
    places: tuple[PlaceStatus, ...]
    declared: bool  # some intent source declares it
    observed: bool  # some actual source observes it
    # What is derived from the draft more than once, by the function that derives it: see derived.
    _derived: dict[Callable[..., Any], tuple[Any, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def derived(self, derive: Callable[[Draft, ContextT], DerivedT], context: ContextT) -> DerivedT:
        """``derive(self, context)``, computed once for this draft and ``context``.

        The assembler's annotations and the drift check read the same drift (and
        ``revisions_behind`` in it): computed on first use and kept with the draft,
        which lives as long as one entity's assembly. ``derive`` returns an
        immutable value (it is shared).
        """
        known = self._derived.get(derive)
        if known is not None and known[0] is context:
            value: DerivedT = known[1]
            return value
        value = derive(self, context)
        self._derived[derive] = (context, value)
        return value


@dataclass(frozen=True)
class CheckContext:
    """The catalog around the entity being checked.

    ``refs`` are the entities assembled now; of those, the Backstage reading the
    feed gets only the kinds ``emission`` serves (an entity of another kind is kept,
    never emitted), and not those in ``refused``: entities of a served kind whose
    assembled document breaks Backstage's rules (``invalid-entity``, kept, never
    emitted).
    """

    refs: frozenset[EntityRef]
    actual_sources: bool = False  # at least one actual source is configured
    heads: Mapping[str, Head] = field(default_factory=dict)  # repository key -> branch head
    emission: EmissionPolicy = DEFAULT_POLICY  # what the feed serves (``backstage.kinds``)
    refused: Container[EntityRef] = frozenset()


class Check(Protocol):
    """A quality check. ``check`` is its one working method; bad data is findings, never raises."""

    def check(self, draft: Draft, context: CheckContext) -> Iterable[Finding]: ...


SettingsT = TypeVar("SettingsT", bound=CheckConfig)


@dataclass(frozen=True)
class CheckPlugin(Generic[SettingsT]):
    """What an entry point in the ``trueup.checks`` group names: settings model and factory."""

    config: type[SettingsT]
    create: Callable[[SettingsT], Check]
    summary: str = ""


def apply_severity(findings: Iterable[Finding], overrides: Mapping[str, Severity]) -> list[Finding]:
    """Configured severities replace the defaults, code by code."""
    return [replace(f, severity=overrides[f.code]) if f.code in overrides else f for f in findings]


_PENALTIES = {Severity.ERROR: 25, Severity.WARNING: 10, Severity.INFO: 2}
_SEVERITIES = tuple(Severity)  # as declared: error, warning, info


def penalty(severity: Severity) -> int:
    return _PENALTIES[severity]


def quality_score(findings: Iterable[Finding]) -> int:
    """100 minus 25 per error, 10 per warning and 2 per info finding, never below 0."""
    return max(0, 100 - sum(penalty(f.severity) for f in findings))


def count_summary(findings: Iterable[Finding]) -> str:
    """``error=1,warning=2`` (only non-zero counts), or ``none``."""
    counts = dict.fromkeys(_SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    parts = [f"{s.value}={n}" for s, n in counts.items() if n]
    return ",".join(parts) or "none"
