"""The assembler: every current observation in, one Backstage entity per ref out.

Pure and deterministic: the same snapshots, policy and ``now`` always give the
same result, whatever order the snapshots came in. Called by the pipeline after
the removal guard; its result goes to the store and the sinks.

Steps: link actual observations to entities (``linking``), merge fields by
precedence with provenance (``precedence``), compute status per place with
freshness (``status``), run the checks, write trueup's annotations, and
validate the final document (an invalid entity is kept but never emitted).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from trueup.assemble import refusal
from trueup.assemble.guard import PIPELINE_ORIGIN
from trueup.assemble.linking import build_index
from trueup.assemble.precedence import Precedence, declared_at
from trueup.assemble.status import AGGREGATED, place_statuses, worst
from trueup.checks import BUILTIN_CHECKS, Check, CheckContext, Draft, apply_severity
from trueup.checks.base import count_summary, quality_score
from trueup.checks.drift import drift_summary
from trueup.checks.relations import names_any
from trueup.model.assembled import AssembledEntity, AssemblyResult, Candidate, FieldOrigin
from trueup.model.emission import DEFAULT_POLICY, EmissionPolicy
from trueup.model.fields import unflatten
from trueup.model.finding import Code, Finding, Severity, finding
from trueup.model.observation import Nature, Observation, Provenance, Snapshot
from trueup.model.ref import DEFAULT_NAMESPACE, EntityRef, parse_ref
from trueup.model.repository import Head

ANNOTATION = "metadata.annotations."
KIND_NAMES = {
    "component": "Component",
    "api": "API",
    "resource": "Resource",
    "system": "System",
    "domain": "Domain",
    "group": "Group",
    "user": "User",
    "location": "Location",
}
# Location entities are followed by the sources that read them; re-emitting them
# would make Backstage resolve their targets against the feed's URL.
STRUCTURAL_KINDS = frozenset({"location"})
DISCOVERED_PROVENANCE_SOURCE = "trueup"
# Annotations trueup computes for every entity: a value a source declares (a
# hydrated file read back as intent, a copy of trueup's output) is dropped, so a
# file can never claim "Healthy" or a quality score.
COMPUTED_ANNOTATIONS = frozenset(
    {
        "backstage.io/managed-by-location",
        "backstage.io/managed-by-origin-location",
        "trueup.io/sources",
        "trueup.io/observed-at",
        "trueup.io/quality-score",
        "trueup.io/findings",
        "trueup.io/drift",
        "trueup.io/discovered",
        *(f"trueup.io/{key}" for key in AGGREGATED),
    }
)
COMPUTED_PATHS = frozenset(ANNOTATION + key for key in COMPUTED_ANNOTATIONS)
# Annotations a source writes for each declaration it reads (where its file is), and
# trueup's own: two copies of one entity differ there by trueup's making, so a value
# that differs is shown by precedence but is never a conflict by itself. The copies
# are still the conflict of an entity declared twice, which names both.
GENERATED_ANNOTATIONS = frozenset(
    {"backstage.io/source-location", "backstage.io/view-url", "backstage.io/edit-url"}
)
GENERATED_PREFIX = ANNOTATION + "trueup.io/"


# The version of the assembly rules themselves (linking, status, checks, findings): raise
# it with any change to them that alters what a stored entity would be assembled into.
# The store assembles every entity again on the first sync after it changes.
RULES = 4


@dataclass(frozen=True)
class AssemblyPolicy:
    """Everything the merge needs from the configuration."""

    precedence: Precedence
    max_age: Mapping[str, timedelta | None]
    feed_url: str
    public_url: str | None = None
    severity: Mapping[str, Severity] = field(default_factory=dict)
    checks: Sequence[Check] = BUILTIN_CHECKS
    emission: EmissionPolicy = DEFAULT_POLICY  # what the Backstage reading the feed accepts


@dataclass(frozen=True)
class ScopeState:
    """What the pipeline knows about scopes beyond their snapshots."""

    failed: Mapping[tuple[str, str], str] = field(default_factory=dict)  # -> error message
    held: Mapping[tuple[str, str], frozenset[EntityRef]] = field(default_factory=dict)
    findings: Sequence[Finding] = ()  # removal-held and source-failed, about scopes
    # The branch heads the git sources read, by repository key: what a deployed
    # revision is compared with (drift "behind the source branch head").
    heads: Mapping[str, Head] = field(default_factory=dict)


def assemble(
    snapshots: Iterable[Snapshot],
    policy: AssemblyPolicy,
    *,
    now: datetime,
    scopes: ScopeState | None = None,
) -> AssemblyResult:
    """Merge all current snapshots into entities (SPEC section 5)."""
    scopes = scopes or ScopeState()
    ordered = sorted(snapshots, key=lambda s: (s.source, s.scope))
    intent: dict[EntityRef, list[Observation]] = defaultdict(list)
    actual_obs: list[Observation] = []
    loose: list[Finding] = list(scopes.findings)
    extra: dict[EntityRef, list[Finding]] = defaultdict(list)
    named: list[tuple[EntityRef, Finding]] = []  # a source's findings that name an entity
    has_actual_source = False
    for snapshot in ordered:
        has_actual_source |= snapshot.nature is Nature.ACTUAL
        for f in snapshot.findings:
            target = finding_ref(f)
            if target is None:
                loose.append(f)
            else:
                extra[target].append(f)
                named.append((target, f))
        for obs in snapshot.observations:
            if is_structural(obs.ref):
                continue
            if obs.nature is Nature.INTENT:
                intent[obs.ref].append(obs)
            else:
                actual_obs.append(obs)

    index = build_index({ref: [o.fields for o in obs] for ref, obs in intent.items()})
    actual: dict[EntityRef, list[Observation]] = defaultdict(list)
    for obs in actual_obs:
        for target in index.targets(obs):
            actual[target].append(obs)

    for ref, held in held_findings(scopes.held):
        extra[ref].append(held)
    failed_refs: dict[EntityRef, set[tuple[str, str]]] = defaultdict(set)
    for ref, obs_list in (*intent.items(), *actual.items()):
        for obs in obs_list:
            key = (obs.provenance.source, obs.provenance.scope)
            if key in scopes.failed:
                failed_refs[ref].add(key)
    for ref, keys in failed_refs.items():
        for source, scope in sorted(keys):
            extra[ref].append(failed_finding(ref, source, scope, scopes.failed[(source, scope)]))

    refs = frozenset(intent) | frozenset(actual)
    context = CheckContext(
        refs=refs,
        actual_sources=has_actual_source,
        heads=scopes.heads,
        emission=policy.emission,
    )

    def one(ref: EntityRef, context: CheckContext) -> AssembledEntity:
        return assemble_entity(
            ref, intent.get(ref, []), actual.get(ref, []), extra.get(ref, []), policy, context, now
        )

    entities = {ref: one(ref, context) for ref in sorted(refs)}
    # Which entities Backstage's rules refuse is known once each is assembled; those that
    # name one in a relation are assembled again, knowing (their own refusal never
    # depends on their relations, so this settles at once: the loop is a bound).
    known: frozenset[EntityRef] = frozenset()
    for _ in range(3):
        found = refusal.refused_refs(entities.values(), policy.emission)
        if found == known:
            break
        context = replace(context, refused=found)
        flipped = found ^ known
        for ref, entity in list(entities.items()):
            if names_any(ref, entity.entity.get("spec"), flipped):
                entities[ref] = one(ref, context)
        known = found
    # A finding about an entity is that entity's (listed once, on it); about a ref that
    # is no entity (a new one whose declaration is broken), it belongs to no entity.
    loose.extend(f for target, f in named if target not in refs)
    return AssemblyResult(entities=entities, findings=loose_findings(loose, policy))


def is_structural(ref: EntityRef) -> bool:
    """Location entities are followed by sources, never assembled or emitted."""
    return ref.kind in STRUCTURAL_KINDS


def loose_findings(findings: Iterable[Finding], policy: AssemblyPolicy) -> tuple[Finding, ...]:
    """The findings that belong to no entity, as a result holds them."""
    return tuple(sorted(apply_severity(findings, policy.severity), key=Finding.key))


def held_findings(
    held: Mapping[tuple[str, str], frozenset[EntityRef]],
) -> Iterator[tuple[EntityRef, Finding]]:
    """The ``removal-held`` finding of each entity whose removal from a scope is held."""
    for (source, scope), refs in held.items():
        for ref in refs:
            yield (
                ref,
                finding(
                    Code.REMOVAL_HELD,
                    str(ref),
                    f"{source}/{scope} no longer reports this entity; the removal is held",
                    source=source,
                    scope=scope,
                    origin=PIPELINE_ORIGIN,
                ),
            )


def failed_finding(ref: EntityRef, source: str, scope: str, message: str) -> Finding:
    """``source-failed`` on an entity that shows the last good data of a failed scope."""
    return finding(
        Code.SOURCE_FAILED,
        str(ref),
        f"the last read of {source}/{scope} failed; its last good data is shown: {message}",
        source=source,
        scope=scope,
    )


def finding_ref(f: Finding) -> EntityRef | None:
    """The entity a source's finding names in its evidence (``ref`` or ``entity``), if any."""
    raw = f.evidence.get("ref", f.evidence.get("entity"))
    if not isinstance(raw, str):
        return None
    try:
        return parse_ref(raw)
    except ValueError:
        return None


def assemble_entity(  # noqa: PLR0917 - all inputs of one entity
    ref: EntityRef,
    intent: Sequence[Observation],
    actual: Sequence[Observation],
    extra: Sequence[Finding],
    policy: AssemblyPolicy,
    context: CheckContext,
    now: datetime,
) -> AssembledEntity:
    """One entity from its observations and the findings about it (the heart of the merge).

    ``assemble`` calls it for every ref; the store's incremental commit calls it
    for the refs whose inputs changed, with the same inputs, so both agree.
    """
    declared = bool(intent)
    candidates: dict[str, list[Candidate]] = defaultdict(list)
    for obs in (*intent, *actual):
        read_from = _references(obs)
        for path, value in obs.fields.items():
            candidates[path].append(
                Candidate(value, obs.nature, obs.provenance, read_from.get(path, ()))
            )
    _drop_conflicting_plugin_annotations(candidates)
    for path in [p for p in candidates if p in COMPUTED_PATHS]:
        del candidates[path]  # trueup computes these; a source may not declare them
    if not declared:
        _add_discovered_defaults(ref, candidates, actual, now)

    fields: dict[str, Any] = {}
    origins: dict[str, FieldOrigin] = {}
    disputed: list[str] = []
    losers: tuple[Candidate, ...]
    for path in sorted(candidates):
        options = candidates[path]
        if len(options) == 1:  # most fields: one source declares them
            winner, losers = options[0], ()
        else:
            winner, *others = policy.precedence.rank(path, options)
            losers = tuple(c for c in others if c.value != winner.value)
        fields[path] = winner.value
        origins[path] = FieldOrigin(winner, losers)
        if losers and not _is_generated(path) and _is_conflict(winner, losers):
            disputed.append(path)

    findings: list[Finding] = list(extra)
    findings.extend(_conflicts(ref, intent, disputed, origins))
    places = tuple(
        sorted(
            (
                p
                for obs in actual
                for p in place_statuses(obs, policy.max_age.get(obs.provenance.source), now)
            ),
            key=lambda p: (p.key, p.place, p.provenance.locator),
        )
    )
    document = unflatten(fields)
    draft = Draft(ref=ref, entity=document, places=places, declared=declared, observed=bool(actual))
    for check in policy.checks:
        findings.extend(check.check(draft, context))

    observed_at = min((o.provenance.observed_at for o in actual), default=None)
    sources = tuple(sorted({o.provenance.source for o in (*intent, *actual)}))
    findings = sorted(apply_severity(_dedupe(findings), policy.severity), key=Finding.key)
    document = _annotate(document, ref, draft, context, findings, sources, observed_at, policy)
    checked = _checked_whole(intent, actual, origins, policy.emission)
    violations = refusal.violations(document, policy.emission, revalidate=checked)
    if violations:
        findings.append(refusal.refused(ref, violations))
        findings = sorted(apply_severity(findings, policy.severity), key=Finding.key)
        document = _annotate(document, ref, draft, context, findings, sources, observed_at, policy)
    return AssembledEntity(
        ref=ref,
        entity=document,
        origins=origins,
        places=places,
        findings=tuple(findings),
        discovered=not declared,
        emitted=not violations,
        score=quality_score(findings),
        observed_at=observed_at,
        sources=sources,
    )


def _checked_whole(
    intent: Sequence[Observation],
    actual: Sequence[Observation],
    origins: Mapping[str, FieldOrigin],
    emission: EmissionPolicy,
) -> bool:
    """Whether every field but the annotations is one document ``emission`` found valid.

    So when one declaration, validated whole by its reader under this policy
    (:attr:`Observation.checked`), gives each of them: all of its fields are
    candidates (only annotations are ever dropped), and no actual observation
    gives one beside the annotations (most give only annotations).
    """
    if len(intent) != 1 or intent[0].checked != emission.fingerprint:
        return False
    for obs in actual:
        for path in obs.fields:
            if path.startswith(ANNOTATION):
                continue
            origin = origins.get(path)
            if origin is None or origin.winner.nature is not Nature.INTENT:
                return False
    return True


def _references(obs: Observation) -> dict[str, tuple[str, ...]]:
    """The files each field was read from by a placeholder (most fields: none)."""
    found: dict[str, tuple[str, ...]] = {}
    for path, locator in obs.references:
        found[path] = (*found.get(path, ()), locator)
    return found


def _is_generated(path: str) -> bool:
    """An annotation trueup writes itself (``GENERATED_ANNOTATIONS``, ``trueup.io/*``)."""
    return path.startswith(GENERATED_PREFIX) or (
        path.startswith(ANNOTATION) and path[len(ANNOTATION) :] in GENERATED_ANNOTATIONS
    )


def _is_conflict(winner: Candidate, losers: Sequence[Candidate]) -> bool:
    """Sources disagree: another source, or another intent declaration, has another value.

    Two places of one actual source with different values (two Argo CD apps of
    one component) are not a disagreement between sources.
    """
    for loser in losers:
        if loser.provenance.source != winner.provenance.source:
            return True
        if loser.nature is Nature.INTENT and winner.nature is Nature.INTENT:
            return True
    return False


def _conflicts(
    ref: EntityRef,
    intent: Sequence[Observation],
    disputed: Sequence[str],
    origins: Mapping[str, FieldOrigin],
) -> list[Finding]:
    out: list[Finding] = []
    if len({o.provenance.locator for o in intent}) > 1:
        out.append(_declared_twice(ref, intent, origins))
    for path in disputed:
        origin = origins[path]
        everyone = (origin.winner, *origin.losers)
        out.append(
            finding(
                Code.CONFLICT,
                str(ref),
                _disagreement(path, everyone),
                field=path,
                candidates=[
                    {
                        "value": c.value,
                        "source": c.provenance.source,
                        "scope": c.provenance.scope,
                        "locator": c.provenance.locator,
                        "nature": c.nature.value,
                        "winner": c is origin.winner,
                    }
                    for c in everyone
                ],
            )
        )
    return out


def _disagreement(path: str, everyone: Sequence[Candidate]) -> str:
    """Who disagrees on a field: its sources, or its declarations where one source has several.

    Two files of one source are two declarations, not two sources: they are named by
    their locators.
    """
    winner = everyone[0]
    if len({c.provenance.source for c in everyone}) == len(everyone):
        return (
            f"sources disagree on {path}; showing {winner.value!r} from {winner.provenance.source}"
        )
    *first, last = (c.provenance.locator for c in everyone)
    return (
        f"{path} differs between {', '.join(first)} and {last}; "
        f"showing {winner.value!r} from {winner.provenance.locator}"
    )


def _declared_twice(
    ref: EntityRef, intent: Sequence[Observation], origins: Mapping[str, FieldOrigin]
) -> Finding:
    """The same entity declared in several files: a conflict naming every locator.

    (A repetition inside one file never reaches here: the file's last copy is the
    declaration.) The winner is decided by precedence, then by path and numeric
    document index; the message says which.
    """
    ordered = sorted(intent, key=lambda o: declared_at(o.provenance.locator))
    winner = origins["kind"].winner.provenance if "kind" in origins else ordered[0].provenance
    others = [o.provenance for o in ordered if o.provenance.locator != winner.locator]
    sources = {o.provenance.source for o in intent}
    how = "by precedence" if len(sources) > 1 else "by path and document order"
    return finding(
        Code.CONFLICT,
        str(ref),
        f"declared {len(ordered)} times: {winner.locator} wins {how} over "
        + ", ".join(p.locator for p in others),
        declarations=[
            {
                "source": o.provenance.source,
                "scope": o.provenance.scope,
                "locator": o.provenance.locator,
                "winner": o.provenance.locator == winner.locator,
            }
            for o in ordered
        ],
    )


def _drop_conflicting_plugin_annotations(candidates: dict[str, list[Candidate]]) -> None:
    """Roadie's Argo CD plugin takes app-name *or* app-selector, never both."""
    selector = ANNOTATION + "argocd/app-selector"
    name = ANNOTATION + "argocd/app-name"
    if selector in candidates and name in candidates:
        kept = [c for c in candidates[name] if c.nature is Nature.INTENT]
        if kept:
            candidates[name] = kept
        else:
            del candidates[name]


def _add_discovered_defaults(
    ref: EntityRef,
    candidates: dict[str, list[Candidate]],
    actual: Sequence[Observation],
    now: datetime,
) -> None:
    """A running thing nobody declares still needs a valid envelope to be shown.

    The defaults are as old as the first observation that found it (not the
    assembly): assembled again later, it is the same entity, stored unchanged.
    """
    found = min((o.provenance.observed_at for o in actual), default=now)
    provenance = Provenance(DISCOVERED_PROVENANCE_SOURCE, "discovered", "trueup:discovered", found)
    defaults: dict[str, Any] = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": KIND_NAMES.get(ref.kind, ref.kind.capitalize()),
        "metadata.name": ref.name,
        "metadata.description": "Discovered running; declared by no catalog source.",
    }
    if ref.namespace != DEFAULT_NAMESPACE:
        defaults["metadata.namespace"] = ref.namespace
    if ref.kind in ("component", "resource"):
        defaults["spec.type"] = "service" if ref.kind == "component" else "unknown"
        defaults["spec.owner"] = "unknown"
    if ref.kind == "component":
        defaults["spec.lifecycle"] = "unknown"
    for path, value in defaults.items():
        if path not in candidates:
            candidates[path] = [Candidate(value, Nature.ACTUAL, provenance)]


def _annotate(  # noqa: PLR0917 - one call site
    document: dict[str, Any],
    ref: EntityRef,
    draft: Draft,
    context: CheckContext,
    findings: Sequence[Finding],
    sources: Sequence[str],
    observed_at: datetime | None,
    policy: AssemblyPolicy,
) -> dict[str, Any]:
    """trueup's own annotations and links (SPEC 6.1), all strings."""
    doc = {**document, "metadata": dict(document.get("metadata") or {})}
    meta = doc["metadata"]
    annotations: dict[str, Any] = dict(meta.get("annotations") or {})
    annotations["backstage.io/managed-by-location"] = f"url:{policy.feed_url}"
    annotations["backstage.io/managed-by-origin-location"] = f"url:{policy.feed_url}"
    annotations["trueup.io/sources"] = ",".join(sources)
    if observed_at is not None:
        annotations["trueup.io/observed-at"] = rfc3339(observed_at)
    annotations["trueup.io/quality-score"] = str(quality_score(findings))
    annotations["trueup.io/findings"] = count_summary(findings)
    annotations["trueup.io/drift"] = ", ".join(drift_summary(draft, context)) or "none"
    annotations["trueup.io/discovered"] = "false" if draft.declared else "true"
    for key in AGGREGATED:
        value = worst(key, draft.places)
        if value is not None:
            annotations[f"trueup.io/{key}"] = value
    meta["annotations"] = dict(sorted(annotations.items()))
    if policy.public_url:
        base = policy.public_url.rstrip("/")
        link = {
            "url": f"{base}/ui/entities/{ref.kind}/{ref.namespace}/{ref.name}",
            "title": "Provenance and data quality",
        }
        links = [x for x in meta.get("links") or [] if x != link]
        meta["links"] = [*links, link]
    return doc


def rfc3339(moment: datetime) -> str:
    return _utc_text(moment.astimezone(UTC))


# The observations of one read share their time: a sync formats a few of them, many times.
@lru_cache(maxsize=1024)
def _utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: dict[tuple[str, str, str], Finding] = {}
    for f in findings:
        seen.setdefault(f.key(), f)
    return list(seen.values())
