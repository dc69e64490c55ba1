"""Whether an assembled entity may be served: the rules it breaks, and the finding it then is.

Called by the assembler on each entity's final document, trueup's annotations
included: the emission policy's rules (a kind outside ``backstage.kinds``,
Backstage's validation, the kind's schema) and numbers JSON cannot write.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from trueup.model.assembled import AssembledEntity
from trueup.model.emission import UNSUPPORTED_KIND, EmissionPolicy
from trueup.model.finding import Code, Finding, JSONValue, finding
from trueup.model.ref import EntityRef
from trueup.model.validation import Violation


def violations(
    document: Mapping[str, Any], emission: EmissionPolicy, *, revalidate: bool
) -> list[Violation]:
    """Every reason the feed may not serve ``document``; none when it may.

    ``revalidate``: its fields but annotations and links are a document
    ``emission`` found valid already (:meth:`EmissionPolicy.revalidated`).
    """
    found = emission.revalidated(document) if revalidate else emission.violations(document)
    return found + unrepresentable(document)


def refused(ref: EntityRef, violations: Sequence[Violation]) -> Finding:
    """Why an assembled entity is not served: a kind outside the policy, or a broken rule."""
    evidence: dict[str, JSONValue] = {
        "violations": [{"field": v.field, "rule": v.rule, "message": v.message} for v in violations]
    }
    if violations[0].rule == UNSUPPORTED_KIND:
        return finding(
            Code.UNSUPPORTED_KIND,
            str(ref),
            f"not served: {violations[0].message}",
            **evidence,
        )
    return finding(
        Code.INVALID_ENTITY,
        str(ref),
        "the assembled entity breaks Backstage's rules and is not served: "
        + "; ".join(f"{v.field}: {v.message}" for v in violations),
        **evidence,
    )


def refused_refs(
    entities: Iterable[AssembledEntity], emission: EmissionPolicy
) -> frozenset[EntityRef]:
    """The entities of a kind ``emission`` serves that are refused for breaking its rules.

    A relation to one of them dangles (``CheckContext.refused``); one of a kind the
    policy does not serve dangles for its kind already.
    """
    return frozenset(e.ref for e in entities if not e.emitted and emission.allows(e.ref.kind))


def unrepresentable(value: Any, path: str = "") -> list[Violation]:
    """NaN and infinities: YAML can write them, JSON cannot, and a feed reader would fail."""
    if not _has_non_finite(value):  # the common case, without building a path per node
        return []
    return _non_finite(value, path)


def _has_non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            continue
        # Cheapest tests first: the Mapping ABC's (for another mapping) is slow.
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.values())
    return False


def _non_finite(value: Any, path: str = "") -> list[Violation]:
    if isinstance(value, float) and not math.isfinite(value):
        return [Violation(path or "<root>", "non-finite-number", f"{value} is not a JSON number")]
    if isinstance(value, Mapping):
        return [v for k, item in value.items() for v in _non_finite(item, f"{path}.{k}".strip("."))]
    if isinstance(value, list):
        return [v for i, item in enumerate(value) for v in _non_finite(item, f"{path}[{i}]")]
    return []
