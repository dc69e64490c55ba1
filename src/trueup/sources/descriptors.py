"""Descriptor files: which files to read, and how one file becomes intent observations.

Shared by the intent sources that read Backstage descriptor files (the ``file``
source, and the ``git`` source): they do the I/O, this module does the rest as
pure functions.

- :class:`IncludeGlobs` decides which paths a source reads. Patterns are relative
  to the source's root; ``*`` and ``?`` stay within one path segment and ``**``
  spans any number of segments, none included (so ``**/*.yaml`` also matches
  ``catalog-info.yaml`` at the root, as in ``.gitignore``).
- :func:`parse_descriptor_file` turns one file's bytes into valid documents and
  findings; :meth:`ParsedDescriptor.observe` stamps the documents with provenance
  once the caller knows the version it read. :func:`read_descriptor_file` does both.
- :func:`location_targets` lists what a ``Location`` entity points to, and
  :func:`previous_by_path` finds the last good observations of a file, so that a
  file that fails to parse keeps them; :func:`kept_for_invalid` does the same
  for one document that no longer validates.

A file's findings are about the file, whose subject (:func:`file_subject`) does
not contain the version read: the finding stays the same finding while it is not
fixed, however often other files change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from trueup.errors import RefError
from trueup.model.emission import DEFAULT_POLICY, LOCATION, EmissionPolicy
from trueup.model.finding import Code, Finding, JSONValue, Severity, finding
from trueup.model.observation import Nature, Observation, Provenance, Snapshot
from trueup.model.ref import EntityRef, parse_ref
from trueup.parse.catalog_yaml import DocumentError, iter_documents
from trueup.sources.documents import (
    check_document,
    last_copies,
    placeholder_finding,
    read_otherwise_finding,
    unsupported_finding,
)
from trueup.sources.placeholders import (
    Referenced,
    ReferenceReader,
    Refusal,
    Resolution,
    may_hold_placeholders,
    resolve_placeholders,
)

SOURCE_LOCATION = "backstage.io/source-location"
_SOURCE_LOCATION_FIELD = f"metadata.annotations.{SOURCE_LOCATION}"


# --- which files --------------------------------------------------------------


class IncludeGlobs:
    """A set of include patterns, compiled once; ``matches`` takes a relative POSIX path."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        body = "|".join(f"(?:{_translate(p)})" for p in self.patterns)
        self._regex = re.compile(f"(?:{body})\\Z" if body else "(?!)", re.DOTALL)

    def matches(self, path: str) -> bool:
        return self._regex.match(path) is not None


def _translate(pattern: str) -> str:
    """One glob as a regex: ``**`` spans segments, ``*``/``?``/``[...]`` stay in one."""
    pattern = pattern.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    segments = pattern.lstrip("/").split("/")
    out: list[str] = []
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        out.append(_translate_segment(segment))
        if not last:
            out.append("/")
    return "".join(out)


def _translate_segment(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := segment.find("]", i + 2)) != -1:
            inner = segment[i + 1 : end]
            negate = inner[:1] in ("!", "^")
            inner = inner[1:] if negate else inner
            escaped = inner.replace("\\", "\\\\").replace("^", "\\^")
            out.append(f"[{'^/' if negate else ''}{escaped}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


# --- one file -----------------------------------------------------------------


def file_subject(source: str, scope: str, path: str) -> str:
    """The subject of a file's findings: ``source:path``, or ``source/scope:path``."""
    return f"{source}:{path}" if scope == source else f"{source}/{scope}:{path}"


def file_locator(locator_prefix: str, path: str, index: int) -> str:
    """The provenance locator of one document: ``catalog@1a2b3c:teams/a.yaml#0``."""
    return f"{locator_prefix}:{path}#{index}"


def locator_path(locator: str) -> tuple[str, int] | None:
    """The file path and document index of a :func:`file_locator`, else None."""
    head, hash_, index = locator.rpartition("#")
    _, colon, path = head.partition(":")
    if not hash_ or not colon or not index.isdigit():
        return None
    return path, int(index)


@dataclass(frozen=True, slots=True)
class DescriptorDocument:
    """One valid entity of a file: its index in the file, ref and flattened fields.

    ``references`` are the files its placeholders were read from:
    (field path, file path, version).
    """

    index: int
    line: int
    ref: EntityRef
    fields: Mapping[str, JSONValue]
    references: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedDescriptor:
    """A parsed file: the valid documents and the findings about the rest.

    ``ok`` is False when the file did not parse as a whole (any YAML-level
    error: Backstage drops the whole file then, and an error can hide the
    documents after it). ``documents`` still holds what could be read; the
    caller decides between those and the file's previous observations.
    ``ignored`` counts the documents that are no Backstage entity at all (a
    Kubernetes manifest); ``dependencies`` are the other files its placeholders
    looked at (path -> version, None for absent): a change to one of them
    changes the parse.
    """

    source: str
    scope: str
    path: str
    documents: tuple[DescriptorDocument, ...]
    findings: tuple[Finding, ...]
    ok: bool
    ignored: int = 0
    dependencies: tuple[tuple[str, str | None], ...] = ()
    checked: str | None = None  # the fingerprint of the policy that validated the documents

    def observe(
        self,
        *,
        locator_prefix: str,
        observed_at: datetime,
        source_location: str | None,
        annotations: Mapping[str, str] | None = None,
        reference_locator: Callable[[str, str], str] | None = None,
        part: str | None = None,
    ) -> tuple[Observation, ...]:
        """One intent observation per valid document, stamped with provenance.

        ``source_location`` and ``annotations`` (e.g. ``backstage.io/view-url``)
        are added unless the document sets them itself. ``reference_locator``
        names a file a placeholder read (path, version); by default it is in the
        same version as the descriptor (``repo@commit:path``). ``part``: the
        observations' :attr:`~trueup.model.observation.Observation.part`.
        """
        locate = reference_locator or (lambda path, version: f"{locator_prefix}:{path}")
        observations = []
        for document in self.documents:
            fields = dict(document.fields)
            if source_location is not None:
                fields.setdefault(_SOURCE_LOCATION_FIELD, source_location)
            for key, value in (annotations or {}).items():
                fields.setdefault(f"metadata.annotations.{key}", value)
            provenance = Provenance(
                source=self.source,
                scope=self.scope,
                locator=file_locator(locator_prefix, self.path, document.index),
                observed_at=observed_at,
            )
            observations.append(
                Observation(
                    ref=document.ref,
                    nature=Nature.INTENT,
                    provenance=provenance,
                    fields=fields,
                    references=tuple(
                        (field_path, locate(path, version))
                        for field_path, path, version in document.references
                    ),
                    part=part,
                    checked=self.checked,
                )
            )
        return tuple(observations)

    def located_findings(self, locator_prefix: str) -> tuple[Finding, ...]:
        """The findings, each about one document given that document's locator as evidence."""
        out = []
        for f in self.findings:
            document = f.evidence.get("document")
            if isinstance(document, int) and "locator" not in f.evidence:
                locator = file_locator(locator_prefix, self.path, document)
                out.append(replace(f, evidence={**f.evidence, "locator": locator}))
            else:
                out.append(f)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class DescriptorFile:
    """The observations and findings of one file; ``ok`` as in :class:`ParsedDescriptor`."""

    path: str
    observations: tuple[Observation, ...]
    findings: tuple[Finding, ...]
    ok: bool


class _NoReferences:
    """For a parse that has no files to read placeholders from."""

    def resolve(self, base_file: str, target: str) -> str | Refusal:
        return Refusal("cannot be read here")

    def read(self, path: str, max_bytes: int) -> Referenced:
        return Referenced(None, None, "cannot be read here")


def parse_descriptor_file(
    data: bytes,
    *,
    source: str,
    scope: str,
    path: str,
    policy: EmissionPolicy = DEFAULT_POLICY,
    references: ReferenceReader | None = None,
) -> ParsedDescriptor:
    """Parse and validate every document of one file, one document at a time.

    Documents that are no Backstage entity are counted and left out; a kind
    outside ``backstage.kinds`` is an ``unsupported-kind`` finding; placeholders
    are resolved through ``references`` before validation. An entity repeated
    in the file resolves to its last copy, as in Backstage. Never raises for
    bad data.
    """
    subject = file_subject(source, scope, path)
    reader = references or _NoReferences()
    documents: list[DescriptorDocument] = []
    findings: list[Finding] = []
    dependencies: dict[str, str | None] = {}
    ignored = 0
    ok = True
    placeholders = may_hold_placeholders(data)
    for item in iter_documents(data, max_file_bytes=policy.max_file_bytes):
        if isinstance(item, DocumentError):
            if item.rule == "not-a-mapping":
                ignored += 1  # a list or a scalar is no entity (an Ansible play, a value)
                continue
            ok = False
            findings.append(_parse_finding(subject, path, item))
            continue
        value = item.value
        if not policy.is_entity(value):
            ignored += 1
            continue
        if item.otherwise is not None:  # Backstage reads this entity otherwise (not the file)
            findings.append(read_otherwise_finding(subject, path, item, item.otherwise))
            continue
        kind = value.get("kind")
        if isinstance(kind, str) and kind.lower() != LOCATION and not policy.allows(kind):
            findings.append(unsupported_finding(subject, path, item, kind))
            continue
        resolution = (
            resolve_placeholders(value, path, reader, max_bytes=policy.max_placeholder_bytes)
            if placeholders
            else Resolution()
        )
        dependencies.update(resolution.dependencies)
        if resolution.problems:
            findings.append(placeholder_finding(subject, path, item, resolution.problems))
            continue
        checked = check_document(subject, path, item, policy)
        if isinstance(checked, Finding):
            findings.append(checked)
        else:
            ref, fields = checked
            read_from = tuple((r.field, r.path, r.version) for r in resolution.references)
            documents.append(DescriptorDocument(item.index, item.line, ref, fields, read_from))
    dropped, findings = last_copies(subject, path, [(d.ref, d.index) for d in documents], findings)
    kept = [d for d in documents if d.index not in dropped]
    return ParsedDescriptor(
        source,
        scope,
        path,
        tuple(kept),
        tuple(findings),
        ok,
        ignored=ignored,
        dependencies=tuple(sorted(dependencies.items())),
        checked=policy.fingerprint,
    )


def read_descriptor_file(
    data: bytes,
    *,
    source: str,
    scope: str,
    path: str,
    locator_prefix: str,
    observed_at: datetime,
    source_location: str | None,
    policy: EmissionPolicy = DEFAULT_POLICY,
) -> DescriptorFile:
    """Parse one file and stamp its valid documents as observations."""
    parsed = parse_descriptor_file(data, source=source, scope=scope, path=path, policy=policy)
    observations = parsed.observe(
        locator_prefix=locator_prefix,
        observed_at=observed_at,
        source_location=source_location,
    )
    return DescriptorFile(path, observations, parsed.findings, parsed.ok)


def _parse_finding(subject: str, path: str, error: DocumentError) -> Finding:
    where = "the file" if error.index is None else f"document {error.index}"
    line = f" (line {error.line})" if error.line is not None else ""
    evidence: dict[str, JSONValue] = {
        "path": path,
        "document": error.index,
        "rule": error.rule,
        "line": error.line,
    }
    if error.field is not None:
        evidence["field"] = error.field
    return finding(
        Code.INVALID_FILE,
        subject,
        f"{path}: {where} does not parse{line}: {error.message} [{error.rule}]",
        **evidence,
    )


# --- Location entities and the previous read -----------------------------------


@dataclass(frozen=True, slots=True)
class LocationTarget:
    """One target of a ``Location`` entity, as written (``type`` defaults to the reader's).

    ``optional``: the Location says ``spec.presence: optional``, so a target that is
    not there is no problem (Backstage skips it without an error).
    """

    document: int
    type: str | None
    target: str
    optional: bool = False


def location_targets(index: int, fields: Mapping[str, JSONValue]) -> list[LocationTarget]:
    """The ``spec.target`` and ``spec.targets`` of a Location's flattened fields."""
    kind = fields.get("kind")
    if not isinstance(kind, str) or kind.lower() != "location":
        return []
    kind_of_target = fields.get("spec.type")
    type_ = kind_of_target if isinstance(kind_of_target, str) else None
    targets: list[str] = []
    single = fields.get("spec.target")
    if isinstance(single, str):
        targets.append(single)
    many = fields.get("spec.targets")
    if isinstance(many, Sequence) and not isinstance(many, str):
        targets.extend(t for t in many if isinstance(t, str))
    optional = fields.get("spec.presence") == "optional"
    return [LocationTarget(index, type_, target, optional) for target in targets]


def observation_targets(observations: Iterable[Observation]) -> list[LocationTarget]:
    """The Location targets of a file's observations (new or kept from the previous read)."""
    out: list[LocationTarget] = []
    for observation in observations:
        where = locator_path(observation.provenance.locator)
        index = where[1] if where is not None else 0
        out.extend(location_targets(index, observation.fields))
    return out


LOCATION_TARGET = "location-target"  # the rule of a Location target that is not followed


def location_problem(
    source: str,
    scope: str,
    path: str,
    target: LocationTarget,
    reason: str,
    *,
    severity: Severity | None = None,
) -> Finding:
    """The finding for a Location target that is not followed (missing, outside, a loop…)."""
    return finding(
        Code.INVALID_FILE,
        file_subject(source, scope, path),
        f"{path} document {target.document}: Location target {target.target!r} {reason} "
        f"[{LOCATION_TARGET}]",
        severity=severity,
        path=path,
        document=target.document,
        rule=LOCATION_TARGET,
        target=target.target,
        reason=reason,
    )


def previous_by_path(snapshot: Snapshot | None) -> dict[str, tuple[Observation, ...]]:
    """The observations of the previous snapshot, grouped by the file they came from."""
    grouped: dict[str, list[Observation]] = {}
    if snapshot is not None:
        for observation in snapshot.observations:
            where = locator_path(observation.provenance.locator)
            if where is not None:
                grouped.setdefault(where[0], []).append(observation)
    return {path: tuple(observations) for path, observations in grouped.items()}


def holds_invalid(findings: Sequence[Finding]) -> bool:
    """Whether a parse refused a document as invalid: only then do its file's previous
    observations matter to :func:`kept_for_invalid` and :func:`followed_targets`."""
    return any(f.code == Code.INVALID_ENTITY for f in findings)


def kept_for_invalid(
    findings: Sequence[Finding], previous: Sequence[Observation], fresh: Sequence[Observation]
) -> list[Observation]:
    """A document that no longer validates keeps its entity's last good observation.

    SPEC 4.1: a file that fails to validate keeps its previous good
    observations; the ``invalid-entity`` finding says why the new one was refused.
    A broken document may not even name its entity any more (``metdata:``, a bad
    name), so the previous observation is matched by the entity the document
    names *or* by its place in the file (the document index of its locator).
    """
    return _kept(findings, previous, {o.ref for o in fresh})


def followed_targets(
    parsed: ParsedDescriptor, previous: Sequence[Observation]
) -> list[LocationTarget]:
    """The Location targets a parsed file leads to.

    Those of its valid documents, and those of the previous observations its
    invalid documents keep (:func:`kept_for_invalid`): a Location that no longer
    validates keeps its last good observation, and still leads where it led, so
    the entities of the files it targeted are not dropped because of it.
    """
    targets = [t for d in parsed.documents for t in location_targets(d.index, d.fields)]
    if previous and holds_invalid(parsed.findings):
        present = {d.ref for d in parsed.documents}
        targets.extend(observation_targets(_kept(parsed.findings, previous, present)))
    return targets


def _kept(
    findings: Sequence[Finding], previous: Sequence[Observation], present: set[EntityRef]
) -> list[Observation]:
    broken: set[EntityRef] = set()
    indices: set[int] = set()
    for f in findings:
        if f.code != Code.INVALID_ENTITY:
            continue
        document = f.evidence.get("document")
        if isinstance(document, int):
            indices.add(document)
        named = f.evidence.get("entity")
        if isinstance(named, str):
            try:
                broken.add(parse_ref(named))
            except RefError:
                continue
    kept = []
    for o in previous:
        where = locator_path(o.provenance.locator)
        at_broken_index = where is not None and where[1] in indices
        if (o.ref in broken or at_broken_index) and o.ref not in present:
            kept.append(o)
    return kept
