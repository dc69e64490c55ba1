"""Backstage catalog-model validation, exact (research anchors-features §2.11).

STUB — the interface is fixed; the implementation is being written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: the field path, a stable rule id and a readable message."""

    field: str  # e.g. "metadata.name", "metadata.annotations[foo]", "spec.owner"
    rule: str  # e.g. "name-format", "name-length", "required", "type"
    message: str


def validate_entity(entity: Any) -> list[Violation]:
    """Every rule the entity breaks; empty when Backstage would accept it."""
    raise NotImplementedError
