"""``drift``, ``undeclared`` and ``stale``: intent against what is really running.

Drift: declared but deployed nowhere (when some actual source is configured;
severity by lifecycle), Argo CD not Synced or not Healthy, Crossplane not Ready
or not Synced. Unknown status is never drift by itself: it is ``stale`` when it
is old, and shown as Unknown.
"""

from __future__ import annotations

from collections.abc import Iterator

from trueup.assemble.status import UNKNOWN
from trueup.checks.base import CheckContext, Draft
from trueup.model.finding import Code, Finding, Severity, finding

_DEPLOYABLE = frozenset({"component"})
_GOOD = {
    "argocd-sync": "Synced",
    "argocd-health": "Healthy",
    "crossplane-ready": "True",
    "crossplane-synced": "True",
}


def drift_summary(draft: Draft, context: CheckContext) -> list[str]:
    """Short drift phrases, e.g. ``argocd-sync=OutOfSync@prod-eu/shop``."""
    phrases: list[str] = []
    deployable = draft.ref.kind in _DEPLOYABLE
    if deployable and draft.declared and not draft.observed and context.actual_sources:
        phrases.append("not-deployed")
    for place in draft.places:
        good = _GOOD.get(place.key)
        if good is not None and place.value not in (good, UNKNOWN):
            phrases.append(f"{place.key}={place.value}@{place.place}")
    return phrases


class DriftCheck:
    def check(self, draft: Draft, context: CheckContext) -> Iterator[Finding]:
        subject = str(draft.ref)
        if not draft.declared and draft.observed:
            yield finding(
                Code.UNDECLARED,
                subject,
                "running but declared by no intent source",
                places=sorted({p.place for p in draft.places}),
            )
        for phrase in drift_summary(draft, context):
            if phrase == "not-deployed":
                lifecycle = str((draft.entity.get("spec") or {}).get("lifecycle", ""))
                yield finding(
                    Code.DRIFT,
                    subject,
                    "declared but deployed nowhere",
                    severity=Severity.WARNING if lifecycle == "production" else Severity.INFO,
                    lifecycle=lifecycle,
                )
            else:
                key, _, rest = phrase.partition("=")
                value, _, place = rest.partition("@")
                yield finding(
                    Code.DRIFT,
                    subject,
                    f"{key} is {value} at {place}",
                    key=key,
                    value=value,
                    place=place,
                )


class StaleCheck:
    def check(self, draft: Draft, context: CheckContext) -> Iterator[Finding]:
        stale = sorted(
            {
                (p.place, p.provenance.source, p.provenance.observed_at)
                for p in draft.places
                if p.stale
            }
        )
        for place, source, observed_at in stale:
            yield finding(
                Code.STALE,
                str(draft.ref),
                f"status at {place} is older than {source}'s max_age "
                f"(last seen {observed_at.isoformat()})",
                place=place,
                source=source,
                observed_at=observed_at.isoformat(),
            )
