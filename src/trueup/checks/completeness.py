"""``missing-field``: configurable completeness rules (``checks.required_fields``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trueup.checks.base import CheckContext, Draft
from trueup.model.finding import Code, Finding, finding


def _lookup(entity: Any, path: str) -> Any:
    node = entity
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


class CompletenessCheck:
    def check(self, draft: Draft, context: CheckContext) -> Iterator[Finding]:
        if not draft.declared:
            return  # a discovered entity declares nothing; `undeclared` says so
        kind = str(draft.entity.get("kind", ""))
        for kind_name, paths in context.required_fields.items():
            if kind_name.lower() != kind.lower():
                continue
            for path in paths:
                if _lookup(draft.entity, path) in (None, "", [], {}):
                    yield finding(
                        Code.MISSING_FIELD, str(draft.ref), f"{path} is missing", field=path
                    )
