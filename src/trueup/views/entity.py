"""The explain view: one entity field by field, with provenance, places and findings.

``trueup explain --format json`` prints :func:`explain_view`, the API's
``GET /api/v1/entities/{kind}/{namespace}/{name}`` returns it, and the dashboard's
entity page renders it. For a ref that is declared but was refused before it
became an entity, :func:`declared_view` says where and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from trueup.errors import RefError
from trueup.model.assembled import AssembledEntity
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef, parse_ref
from trueup.store.records import StoredEntity
from trueup.views.age import age


def field_rows(entity: AssembledEntity, now: datetime) -> Iterator[dict[str, Any]]:
    """One row per field path: its value, winning source and locator, age, and the losers."""
    for path, origin in sorted(entity.origins.items()):
        w = origin.winner.provenance
        yield {
            "field": path,
            "value": origin.winner.value,
            "source": w.source,
            "scope": w.scope,
            "locator": w.locator,
            "references": list(origin.winner.references),  # files a placeholder read it from
            "observed_at": w.observed_at.isoformat(),
            "age": age(w.observed_at, now),
            "disputed_by": [
                {
                    "value": c.value,
                    "source": c.provenance.source,
                    "scope": c.provenance.scope,
                    "locator": c.provenance.locator,
                    "observed_at": c.provenance.observed_at.isoformat(),
                }
                for c in origin.losers
            ],
        }


def explain_view(stored: StoredEntity, now: datetime) -> dict[str, Any]:
    """The whole explain shape of a stored entity (docs/cli-json.md)."""
    entity = stored.assembled
    return {
        "ref": str(entity.ref),
        "removed": stored.removed,
        "revision": stored.revision,
        "emitted": entity.emitted,
        "discovered": entity.discovered,
        "score": entity.score,
        "fields": list(field_rows(entity, now)),
        "places": [p.to_json() for p in entity.places],
        "findings": [f.to_json() for f in entity.findings],
        "entity": entity.entity,
    }


def declarations(findings: Iterable[Finding], ref: EntityRef) -> list[Finding]:
    """The findings about documents that declare ``ref`` (by their ``entity`` evidence)."""
    found = []
    for f in findings:
        named = f.evidence.get("entity")
        if not isinstance(named, str):
            continue
        try:
            if parse_ref(named) == ref:
                found.append(f)
        except RefError:
            continue
    return sorted(found, key=lambda f: (_where(f), f.code, f.message))


def declared_view(ref: EntityRef, found: list[Finding]) -> dict[str, Any]:
    """A ref declared in documents that were all refused: where, and why."""
    return {
        "ref": str(ref),
        "declared": True,
        "served": False,
        "documents": declared_documents(found),
        "findings": [f.to_json() for f in found],
    }


def declared_documents(found: list[Finding]) -> list[dict[str, Any]]:
    """Each refused document once, by locator, in the order of ``found``."""
    seen: dict[str, dict[str, Any]] = {}
    for f in found:
        locator = f.evidence.get("locator") or f"{f.subject}#{f.evidence.get('document')}"
        seen.setdefault(
            str(locator),
            {
                "locator": str(locator),
                "subject": f.subject,
                "path": f.evidence.get("path"),
                "document": f.evidence.get("document"),
                "line": f.evidence.get("line"),
            },
        )
    return list(seen.values())


def _where(f: Finding) -> tuple[str, int]:
    document = f.evidence.get("document")
    return f.subject, document if isinstance(document, int) else -1
