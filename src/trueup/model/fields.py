"""Field paths: how a Backstage entity is split into mergeable units and rebuilt.

The merge works on *fields*, each a path string:

- ``apiVersion``, ``kind``;
- ``metadata.<key>`` for every metadata key except labels and annotations
  (``metadata.title``, ``metadata.tags`` as one list value…);
- ``metadata.labels.<key>`` and ``metadata.annotations.<key>``, one unit per key
  (keys may contain dots and slashes: ``metadata.annotations.backstage.io/x``);
- ``spec.<key>`` for every top-level spec key (``spec.owner``,
  ``spec.dependsOn`` as one list value).

``flatten`` and ``unflatten`` are exact inverses on entities of that shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from sys import intern
from typing import Any

from trueup.model.finding import JSONValue

_KEYED = ("metadata.labels.", "metadata.annotations.")


def flatten(entity: Mapping[str, Any]) -> dict[str, JSONValue]:
    """Split an entity document into field paths. Unknown root keys are kept whole.

    The paths are interned: a sync holds 100,000 observations of a dozen paths each,
    mostly the same dozen.
    """
    out: dict[str, JSONValue] = {}
    for root, value in entity.items():
        if root == "metadata" and isinstance(value, Mapping):
            for key, inner in value.items():
                if key in ("labels", "annotations") and isinstance(inner, Mapping):
                    for sub, subvalue in inner.items():
                        out[intern(f"metadata.{key}.{sub}")] = subvalue
                else:
                    out[intern(f"metadata.{key}")] = inner
        elif root == "spec" and isinstance(value, Mapping):
            for key, inner in value.items():
                out[intern(f"spec.{key}")] = inner
        else:
            out[root] = value
    return out


# A sync rebuilds 100,000 entities from the same few dozen paths: each is split once.
_PATHS = 8192


@lru_cache(maxsize=_PATHS)
def split(path: str) -> tuple[str, ...]:
    """The nesting of one path: ``metadata.annotations.a.b/c`` → (metadata, annotations, a.b/c)."""
    for prefix in _KEYED:
        if path.startswith(prefix):
            return ("metadata", prefix.split(".")[1], path[len(prefix) :])
    head, dot, tail = path.partition(".")
    return (head, tail) if dot else (head,)


def unflatten(fields: Mapping[str, JSONValue]) -> dict[str, Any]:
    """Rebuild an entity document, in the order Backstage writes it."""
    entity: dict[str, Any] = {}
    for path, parents, leaf in _plan(tuple(fields)):
        node = entity
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = fields[path]
    return entity


Plan = tuple[tuple[str, tuple[str, ...], str], ...]


# Entities of one kind mostly have the same paths: each such set is ordered and split once.
@lru_cache(maxsize=2048)
def _plan(paths: tuple[str, ...]) -> Plan:
    """Each path in document order, with the keys of the mappings that hold its value."""
    plan = []
    for path in sorted(paths, key=_order):
        *parents, leaf = split(path)
        plan.append((path, tuple(parents), leaf))
    return tuple(plan)


_ROOT_ORDER = {"apiVersion": 0, "kind": 1, "metadata": 2, "spec": 3}
_META_ORDER = {"name": 0, "namespace": 1, "title": 2, "description": 3}


@lru_cache(maxsize=_PATHS)
def _order(path: str) -> tuple[int, int, str]:
    parts = split(path)
    root = _ROOT_ORDER.get(parts[0], 9)
    inner = _META_ORDER.get(parts[1], 5) if root == 2 and len(parts) > 1 else 5
    return (root, inner, path)
