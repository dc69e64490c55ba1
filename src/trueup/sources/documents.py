"""One document of a descriptor file: the checks between "it parsed" and "it is an entity".

Called by :func:`trueup.sources.descriptors.parse_descriptor_file` for every
document: which findings a refused document becomes (a kind outside
``backstage.kinds``, a placeholder that cannot be resolved, a rule of
Backstage's validation), and the rule that an entity repeated in one file is
its last copy. Pure functions of the parsed values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from trueup.errors import RefError
from trueup.model.emission import UNSUPPORTED_KIND, EmissionPolicy
from trueup.model.fields import flatten
from trueup.model.finding import Code, Finding, JSONValue, Severity, finding
from trueup.model.ref import EntityRef, parse_ref
from trueup.parse.catalog_yaml import Document, DocumentError


def unsupported_finding(subject: str, path: str, document: Document, kind: str) -> Finding:
    evidence: dict[str, JSONValue] = {
        "path": path,
        "document": document.index,
        "line": document.line,
        "field": "kind",
        "rule": UNSUPPORTED_KIND,
        "kind": kind,
    }
    entity = entity_name(document.value)
    if entity is not None:
        evidence["entity"] = entity
    named = entity or f"a {kind}"
    return finding(
        Code.UNSUPPORTED_KIND,
        subject,
        f"{path} document {document.index}: kind {kind!r} is not in backstage.kinds; "
        f"{named} is not served [{UNSUPPORTED_KIND}]",
        **evidence,
    )


def placeholder_finding(
    subject: str, path: str, document: Document, problems: Sequence[tuple[str, str]]
) -> Finding:
    field_path, message = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return _invalid_entity(
        subject,
        path,
        document,
        f"{message} [placeholder]{more}",
        field=field_path,
        rule="placeholder",
        violations=[{"field": f, "rule": "placeholder", "message": m} for f, m in problems],
    )


def read_otherwise_finding(
    subject: str, path: str, document: Document, otherwise: DocumentError
) -> Finding:
    """The ``invalid-entity`` finding of an entity that Backstage reads otherwise, under
    its file's ``%YAML 1.1`` directive (``otherwise``, the document's
    :attr:`~trueup.parse.catalog_yaml.Document.otherwise`): refused as an entity that
    breaks a rule is, so it keeps its last good observation."""
    return _invalid_entity(
        subject,
        path,
        document,
        f"{otherwise.message} [{otherwise.rule}]",
        field=otherwise.field,
        rule=otherwise.rule,
        line=otherwise.line,
    )


def check_document(
    subject: str, path: str, document: Document, policy: EmissionPolicy
) -> tuple[EntityRef, dict[str, JSONValue]] | Finding:
    """The document's ref and flattened fields, or the ``invalid-entity`` finding it is."""
    violations = policy.violations(document.value)
    if violations:
        first = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        said = first.message if first.field in first.message else f"{first.field}: {first.message}"
        return _invalid_entity(
            subject,
            path,
            document,
            f"{said} [{first.rule}]{more}",
            field=first.field,
            rule=first.rule,
            violations=[
                {"field": v.field, "rule": v.rule, "message": v.message} for v in violations
            ],
        )
    value = document.value
    metadata = value["metadata"]
    ref = EntityRef.of(value["kind"], metadata.get("namespace"), metadata["name"])
    return ref, flatten(value)


def _invalid_entity(
    subject: str,
    path: str,
    document: Document,
    message: str,
    *,
    field: str | None,
    rule: str,
    line: int | None = None,
    violations: list[JSONValue] | None = None,
) -> Finding:
    """An ``invalid-entity`` finding about one document of ``path`` (``line``: where in
    it, when not its start)."""
    evidence: dict[str, JSONValue] = {
        "path": path,
        "document": document.index,
        "line": document.line if line is None else line,
        "field": field,
        "rule": rule,
    }
    if violations is not None:
        evidence["violations"] = violations
    entity = entity_name(document.value)
    if entity is not None:
        evidence["entity"] = entity
    return finding(
        Code.INVALID_ENTITY, subject, f"{path} document {document.index}: {message}", **evidence
    )


def last_copies(
    subject: str, path: str, documents: Sequence[tuple[EntityRef, int]], findings: list[Finding]
) -> tuple[frozenset[int], list[Finding]]:
    """An entity declared twice in one file is its last copy, by document index.

    ``documents`` are the (ref, index) of the valid documents. Returns the
    indices of the earlier copies to drop, and the findings without those about
    earlier copies plus an ``info`` finding per repeated entity, as Backstage
    collapses a repeated ref and keeps the last copy. Not a conflict between
    sources: nothing is decided by precedence.
    """
    copies: dict[EntityRef, list[int]] = {}
    for ref, index in documents:
        copies.setdefault(ref, []).append(index)
    for f in findings:
        named, at = _finding_entity(f), f.evidence.get("document")
        if named is not None and isinstance(at, int):
            copies.setdefault(named, []).append(at)
    repeated = {ref: sorted(indices) for ref, indices in copies.items() if len(indices) > 1}
    if not repeated:
        return frozenset(), findings
    dropped = frozenset(i for indices in repeated.values() for i in indices[:-1])
    kept: list[Finding] = []
    for f in findings:
        named, at = _finding_entity(f), f.evidence.get("document")
        if named is None or named not in repeated or at == repeated[named][-1]:
            kept.append(f)
    for ref, indices in sorted(repeated.items()):
        earlier = ", ".join(str(i) for i in indices[:-1])
        kept.append(
            finding(
                Code.CONFLICT,
                subject,
                f"{path}: {ref} is declared in documents {earlier} and {indices[-1]}; "
                f"the last copy (document {indices[-1]}) is used, as Backstage does",
                severity=Severity.INFO,
                path=path,
                document=indices[-1],
                entity=str(ref),
                rule="repeated-in-file",
                documents=list(indices),
            )
        )
    return dropped, kept


def _finding_entity(f: Finding) -> EntityRef | None:
    named = f.evidence.get("entity")
    if not isinstance(named, str):
        return None
    try:
        return parse_ref(named)
    except RefError:
        return None


def entity_name(value: object) -> str | None:
    """``kind:namespace/name`` as written, when the document has them as strings."""
    if not isinstance(value, Mapping):
        return None
    metadata = value.get("metadata")
    kind = value.get("kind")
    if not isinstance(metadata, Mapping) or not isinstance(kind, str):
        return None
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not isinstance(name, str):
        return None
    return f"{kind}:{namespace if isinstance(namespace, str) else 'default'}/{name}"
