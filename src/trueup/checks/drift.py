"""``drift``, ``undeclared`` and ``stale``: intent against what is really running.

Drift: declared but deployed nowhere (when some actual source is configured;
severity by lifecycle), Argo CD not Synced or not Healthy, Crossplane not Ready
or not Synced, an Argo CD app deploying another commit than the head of the
branch a git source read. Unknown status is never drift by itself: it is ``stale`` when it
is old, and shown as Unknown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from trueup.checks.base import CheckContext, CheckPlugin, Draft
from trueup.config_model import CheckConfig
from trueup.model.assembled import UNKNOWN, PlaceStatus
from trueup.model.finding import Code, Finding, Severity, finding
from trueup.model.repository import Head, repository_key

_DEPLOYABLE = frozenset({"component"})
_GOOD = {
    "argocd-sync": "Synced",
    "argocd-health": "Healthy",
    "crossplane-ready": "True",
    "crossplane-synced": "True",
}


@dataclass(frozen=True, slots=True)
class Behind:
    """An Argo CD app at a place deploys another commit than its branch head."""

    place: str
    deployed: str
    head: Head


def revisions_behind(draft: Draft, context: CheckContext) -> list[Behind]:
    """Places whose deployed revision is not the head a git source read of that branch.

    Only single-source apps whose repository a git source reads, tracking that
    source's branch (as ``main`` or ``refs/heads/main``, or ``HEAD``); a stale or unknown
    revision is not compared. Computed once per draft (:meth:`Draft.derived`).
    """
    return list(draft.derived(_revisions_behind, context))


def _revisions_behind(draft: Draft, context: CheckContext) -> tuple[Behind, ...]:
    if not context.heads:
        return ()
    by_object: dict[str, dict[str, PlaceStatus]] = defaultdict(dict)
    for place in draft.places:
        by_object[place.provenance.locator][place.key] = place
    found = []
    for values in by_object.values():
        revision = values.get("argocd-deployed-revision") or values.get("argocd-revision")
        if revision is not None and revision.value == UNKNOWN:  # never synced: compared-to
            revision = values.get("argocd-revision")
        repo = values.get("argocd-repo")
        if revision is None or repo is None or revision.stale or revision.value == UNKNOWN:
            continue
        head = context.heads.get(repository_key(repo.value))
        target = values.get("argocd-target-revision")
        tracked = target.value if target is not None and target.value != UNKNOWN else ""
        if head is None or tracked not in ("", "HEAD", head.branch, f"refs/heads/{head.branch}"):
            continue
        if not head.commit.startswith(revision.value) and not revision.value.startswith(
            head.commit
        ):
            found.append(Behind(revision.place, revision.value, head))
    return tuple(found)


def drift_summary(draft: Draft, context: CheckContext) -> list[str]:
    """Short drift phrases, e.g. ``argocd-sync=OutOfSync@prod-eu/shop``.

    Computed once per draft (:meth:`Draft.derived`): the drift check and the
    assembler's ``trueup.io/drift`` annotation both read them.
    """
    return list(draft.derived(_drift_summary, context))


def _drift_summary(draft: Draft, context: CheckContext) -> tuple[str, ...]:
    phrases: list[str] = []
    deployable = draft.ref.kind in _DEPLOYABLE
    if deployable and draft.declared and not draft.observed and context.actual_sources:
        phrases.append("not-deployed")
    for place in draft.places:
        good = _GOOD.get(place.key)
        if good is not None and place.value not in (good, UNKNOWN):
            phrases.append(f"{place.key}={place.value}@{place.place}")
    for behind in revisions_behind(draft, context):
        phrases.append(f"revision-behind-{behind.head.branch}@{behind.place}")
    return tuple(phrases)


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
                spec = draft.entity.get("spec")
                lifecycle = str(spec.get("lifecycle", "")) if isinstance(spec, dict) else ""
                yield finding(
                    Code.DRIFT,
                    subject,
                    "declared but deployed nowhere",
                    severity=Severity.WARNING if lifecycle == "production" else Severity.INFO,
                    lifecycle=lifecycle,
                )
            elif phrase.startswith("revision-behind-"):
                continue  # reported below, with the commits
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

        for behind in revisions_behind(draft, context):
            yield finding(
                Code.DRIFT,
                subject,
                f"deploys {behind.deployed[:12]} at {behind.place}, but {behind.head.branch} "
                f"is at {behind.head.commit[:12]}",
                key="argocd-revision",
                place=behind.place,
                deployed=behind.deployed,
                branch=behind.head.branch,
                head=behind.head.commit,
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


DRIFT_PLUGIN = CheckPlugin(
    config=CheckConfig,
    create=lambda config: DriftCheck(),
    summary="drift, undeclared: intent against what is really running",
)
STALE_PLUGIN = CheckPlugin(
    config=CheckConfig,
    create=lambda config: StaleCheck(),
    summary="stale: status older than its source's max_age",
)
