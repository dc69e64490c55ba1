"""The Backstage feed's content (SPEC 6.1): what ``/backstage/entities.yaml`` and
``trueup export`` serve.

Only entities that pass Backstage's validation are emitted (one invalid
document would make Backstage drop the whole file). Output is streamed one
document at a time so 100,000 entities never sit in memory as one string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from trueup.model.assembled import AssembledEntity
from trueup.yaml_text import dump_document


def emitted(
    entities: Iterable[AssembledEntity], kinds: frozenset[str] | None = None
) -> Iterator[AssembledEntity]:
    """The entities the feed serves, optionally filtered by (lowercase) kind."""
    for entity in entities:
        if entity.emitted and (kinds is None or entity.ref.kind in kinds):
            yield entity


def entity_yaml(document: Mapping[str, Any]) -> str:
    """One entity as block YAML (without the ``---`` separator)."""
    return dump_document(document)


def render_yaml(entities: Iterable[AssembledEntity]) -> Iterator[str]:
    """Multi-document YAML, one chunk per entity."""
    for entity in entities:
        yield "---\n" + entity_yaml(entity.entity)


def render_json(entities: Iterable[AssembledEntity]) -> Iterator[str]:
    """``{"items": [...]}``, one chunk per entity."""
    yield '{"items": ['
    first = True
    for entity in entities:
        yield ("" if first else ",") + "\n" + json.dumps(entity.entity, ensure_ascii=False)
        first = False
    yield "\n]}\n"
