"""``missing-field``: configurable completeness rules (``checks.completeness.required_fields``).

The ``completeness`` check plugin; its settings are :class:`CompletenessConfig`.
``checks.required_fields`` is read as the same setting (its older spelling).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from trueup.checks.base import CheckContext, CheckPlugin, Draft
from trueup.config_model import CheckConfig
from trueup.model.finding import Code, Finding, finding


class CompletenessConfig(CheckConfig):
    """The fields each kind must have (field paths, by kind name)."""

    required_fields: dict[str, list[str]] = {
        "Component": ["metadata.description", "spec.lifecycle", "spec.system"],
        "API": ["metadata.description", "spec.lifecycle", "spec.system"],
        "Resource": ["metadata.description", "spec.system"],
        "System": ["metadata.description"],
    }


def _lookup(entity: Any, parts: Sequence[str]) -> Any:
    node = entity
    for part in parts:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


class CompletenessCheck:
    def __init__(self, config: CompletenessConfig | None = None) -> None:
        self.config = config or CompletenessConfig()
        # Each path split once, by kind in any case (the rules of every spelling, in order).
        self._required: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
        for kind_name, paths in self.config.required_fields.items():
            self._required[kind_name.lower()].extend((p, p.split(".")) for p in paths)

    def check(self, draft: Draft, context: CheckContext) -> Iterator[Finding]:
        if not draft.declared:
            return  # a discovered entity declares nothing; `undeclared` says so
        kind = str(draft.entity.get("kind", ""))
        for path, parts in self._required.get(kind.lower(), ()):
            if _lookup(draft.entity, parts) in (None, "", [], {}):
                yield finding(Code.MISSING_FIELD, str(draft.ref), f"{path} is missing", field=path)


PLUGIN = CheckPlugin(
    config=CompletenessConfig,
    create=CompletenessCheck,
    summary="missing-field: the fields each kind must have",
)
