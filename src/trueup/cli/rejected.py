"""``trueup explain`` for an entity that is declared but was never accepted.

A document refused before it became an entity (it breaks Backstage's rules, a
placeholder cannot be resolved, its kind is outside ``backstage.kinds``) leaves
no entity behind, only findings about its file that name it. Called by
:mod:`trueup.cli.catalog` when the store has no entity for the ref: shows every
document that declares it, with its locator, and why each was refused.
"""

from __future__ import annotations

import sys

from trueup.cli.machine import write_json
from trueup.cli.terminal import say
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef
from trueup.views.entity import declarations, declared_documents, declared_view

__all__ = ["declarations", "show"]


def show(ref: EntityRef, found: list[Finding], *, as_json: bool) -> None:
    """Print the declarations of a refused entity and why each was refused."""
    documents = declared_documents(found)
    if as_json:
        write_json(declared_view(ref, found), sys.stdout)
        return
    say(f"{ref}  declared but NOT served: refused before it became an entity")
    for document in documents:
        line = f"  line {document['line']}" if document.get("line") is not None else ""
        say(f"document  {document['locator']}{line}")
    for f in found:
        say(f"{f.severity.value:<7} {f.code:<16} {f.message}")
