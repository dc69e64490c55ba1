"""The entity page's model: every field with its provenance, status per place, findings.

Built on :func:`trueup.views.entity.explain_view` (the same rows ``trueup
explain`` and the API give): each field with its value, the winning source,
its locator (linked to the git file at its commit where the source has a web
address, named as the cluster object otherwise), its age and the candidates
that lost; the annotations trueup computes itself; the status values grouped by
place with their freshness (a stale value is shown as ``Unknown`` next to the
last known value and when it was seen); and the findings with a fix hint each.
Called by :mod:`trueup.web.ui.entity`; pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trueup.assemble.status import AGGREGATED, worst
from trueup.model.assembled import PlaceStatus
from trueup.model.fields import flatten
from trueup.model.finding import Finding
from trueup.store.records import StoredEntity
from trueup.views.age import age
from trueup.views.entity import explain_view
from trueup.views.quality import ordered
from trueup.web.ui.models.badges import Badge, badges
from trueup.web.ui.models.hints import fix_hint
from trueup.web.ui.models.history import shown
from trueup.web.ui.models.locators import Locators, LocatorView


@dataclass(frozen=True, slots=True)
class CandidateView:
    value: str
    source: str
    scope: str
    locator: LocatorView
    observed_at: str
    age: str


@dataclass(frozen=True, slots=True)
class FieldView:
    field: str
    value: str
    winner: CandidateView
    references: Sequence[LocatorView]  # files a $text/$json/$yaml placeholder read
    losers: Sequence[CandidateView]


@dataclass(frozen=True, slots=True)
class StatusValue:
    key: str
    shown: str  # what the entity shows: Unknown once stale
    last_known: str
    stale: bool


@dataclass(frozen=True, slots=True)
class PlaceView:
    """What one object at one place reported, and how fresh it is."""

    place: str
    source: str
    scope: str
    locator: LocatorView
    observed_at: str
    age: str
    stale: bool
    values: Sequence[StatusValue]


@dataclass(frozen=True, slots=True)
class FindingView:
    code: str
    severity: str
    message: str
    hint: str
    evidence: Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class EntityView:
    ref: str
    kind: str
    namespace: str
    name: str
    title: str
    description: str
    owner: str | None
    score: int
    revision: int
    updated_at: str
    updated: str
    removed: bool
    emitted: bool
    discovered: bool
    badges: Sequence[Badge]
    fields: Sequence[FieldView]
    computed: Sequence[tuple[str, str]]  # annotations trueup wrote: (field, value)
    summary: Sequence[StatusValue]  # the worst of every place, per status key
    places: Sequence[PlaceView]
    findings: Sequence[FindingView]


def _candidate(row: Mapping[str, Any], locators: Locators, now: datetime) -> CandidateView:
    observed = datetime.fromisoformat(str(row["observed_at"]))
    return CandidateView(
        value=shown(row["value"]),
        source=str(row["source"]),
        scope=str(row["scope"]),
        locator=locators.view(str(row["source"]), str(row["locator"])),
        observed_at=observed.isoformat(),
        age=age(observed, now),
    )


def entity_view(stored: StoredEntity, locators: Locators, now: datetime) -> EntityView:
    """Everything the entity page shows about ``stored``."""
    entity = stored.assembled
    explained = explain_view(stored, now)
    fields = [
        FieldView(
            field=row["field"],
            value=shown(row["value"]),
            winner=_candidate(row, locators, now),
            references=[locators.view(row["source"], r) for r in row["references"]],
            losers=[_candidate(c, locators, now) for c in row["disputed_by"]],
        )
        for row in explained["fields"]
    ]
    traced = {row["field"] for row in explained["fields"]}
    computed = [
        (path, shown(value))
        for path, value in sorted(flatten(entity.entity).items())
        if path not in traced
    ]
    metadata = entity.entity.get("metadata") or {}
    title = metadata.get("title") if isinstance(metadata, Mapping) else None
    description = metadata.get("description") if isinstance(metadata, Mapping) else None
    return EntityView(
        ref=str(stored.ref),
        kind=stored.ref.kind,
        namespace=stored.ref.namespace,
        name=stored.ref.name,
        title=title if isinstance(title, str) and title else stored.ref.name,
        description=description if isinstance(description, str) else "",
        owner=entity.owner,
        score=entity.score,
        revision=stored.revision,
        updated_at=stored.updated_at.isoformat(),
        updated=age(stored.updated_at, now),
        removed=stored.removed,
        emitted=entity.emitted,
        discovered=entity.discovered,
        badges=badges(entity, removed=stored.removed),
        fields=fields,
        computed=computed,
        summary=status_summary(entity.places),
        places=place_views(entity.places, locators, now),
        findings=finding_views(entity.findings),
    )


def status_summary(places: Sequence[PlaceStatus]) -> list[StatusValue]:
    """The worst value of each aggregated status key over every place (SPEC 5.2)."""
    summary = []
    for key in AGGREGATED:
        value = worst(key, places)
        if value is None:
            continue
        stale = any(p.stale for p in places if p.key == key)
        summary.append(StatusValue(key, value, value, stale))
    return summary


def place_views(
    places: Sequence[PlaceStatus], locators: Locators, now: datetime
) -> list[PlaceView]:
    """Stale places first, then by place; each object's values together, with its freshness."""
    grouped: dict[tuple[str, str], list[PlaceStatus]] = {}
    for status in places:
        grouped.setdefault((status.place, status.provenance.locator), []).append(status)
    views = []
    # Stale places first: they are why a status shows Unknown.
    ordered_places = sorted(grouped.items(), key=lambda item: (not _stale(item[1]), item[0]))
    for (place, _), values in ordered_places:
        first = values[0].provenance
        views.append(
            PlaceView(
                place=place,
                source=first.source,
                scope=first.scope,
                locator=locators.view(first.source, first.locator),
                observed_at=first.observed_at.isoformat(),
                age=age(first.observed_at, now),
                stale=_stale(values),
                values=[
                    StatusValue(v.key, v.value, v.last_known, v.stale)
                    for v in sorted(values, key=lambda v: v.key)
                ],
            )
        )
    return views


def _stale(values: Sequence[PlaceStatus]) -> bool:
    return any(v.stale for v in values)


def finding_views(findings: Sequence[Finding]) -> list[FindingView]:
    """Worst first, each with what to do about it."""
    return [
        FindingView(
            code=f.code,
            severity=f.severity.value,
            message=f.message,
            hint=fix_hint(f),
            evidence=[(k, shown(v)) for k, v in sorted(f.evidence.items())],
        )
        for f in ordered(findings)
    ]
