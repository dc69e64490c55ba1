"""``trueup explain`` for an entity that is declared but was never accepted.

A document refused before it became an entity (it breaks Backstage's rules, a
placeholder cannot be resolved, its kind is outside ``backstage.kinds``) leaves
no entity behind, only findings about its file that name it. Called by
:mod:`trueup.cli.catalog` when the store has no entity for the ref: shows every
document that declares it, with its locator, and why each was refused.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from trueup.cli.machine import write_json
from trueup.cli.terminal import say
from trueup.errors import RefError
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef, parse_ref


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


def show(ref: EntityRef, found: list[Finding], *, as_json: bool) -> None:
    """Print the declarations of a refused entity and why each was refused."""
    documents = _documents(found)
    if as_json:
        data = {
            "ref": str(ref),
            "declared": True,
            "served": False,
            "documents": documents,
            "findings": [f.to_json() for f in found],
        }
        write_json(data, sys.stdout)
        return
    say(f"{ref}  declared but NOT served: refused before it became an entity")
    for document in documents:
        line = f"  line {document['line']}" if document.get("line") is not None else ""
        say(f"document  {document['locator']}{line}")
    for f in found:
        say(f"{f.severity.value:<7} {f.code:<16} {f.message}")


def _documents(found: list[Finding]) -> list[dict[str, Any]]:
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
