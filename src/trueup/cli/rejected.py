"""``trueup explain`` for an entity that is declared but was never accepted.

A document refused before it became an entity (it breaks Backstage's rules, a
placeholder cannot be resolved, its kind is outside ``backstage.kinds``) leaves
no entity behind, only findings about its file that name it. Called by
:mod:`trueup.cli.catalog` when the store has no entity for the ref: shows every
document that declares it, with its locator, and why each was refused.
"""

from __future__ import annotations

import json
import sys

from trueup.cli.app import console
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef
from trueup.views.entity import declarations, declared_documents, declared_view

__all__ = ["declarations", "show"]


def show(ref: EntityRef, found: list[Finding], *, as_json: bool) -> None:
    """Print the declarations of a refused entity and why each was refused."""
    documents = declared_documents(found)
    if as_json:
        json.dump(declared_view(ref, found), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    console.print(
        f"{ref}  declared but NOT served: refused before it became an entity", markup=False
    )
    for document in documents:
        line = f"  line {document['line']}" if document.get("line") is not None else ""
        console.print(f"document  {document['locator']}{line}", markup=False)
    for f in found:
        console.print(f"{f.severity.value:<7} {f.code:<16} {f.message}", markup=False)
