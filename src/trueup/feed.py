"""The Backstage feed's content (SPEC 6.1): what ``/backstage/entities.yaml`` and
``trueup export`` serve.

Only entities that pass Backstage's validation are emitted (one invalid
document would make Backstage drop the whole file). Each emitted entity is
rendered once, when it changes (the store keeps the text, see
:func:`feed_row`), and the feed streams those texts one document at a time, so
100,000 entities never sit in memory as one string.

Shared by the store (which renders a row when an entity changes), the sinks
and the commands and server that publish the feed; what may be published at
all is decided by :mod:`trueup.sinks.publish`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from trueup.model.assembled import AssembledEntity
from trueup.model.json_encoder import encode_with
from trueup.model.ref import EntityRef
from trueup.yaml_text import dump_document

# Built once (see encode_with). A value that holds itself, which no parsed document can,
# raises RecursionError (not checked for: ValueError).
_COMPACT = encode_with(
    json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
)


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One emitted entity as the feed serves it."""

    ref: EntityRef
    content_hash: str
    yaml: str  # one block-YAML document, without the ``---`` separator
    json: str  # the same document as compact JSON


def feed_row(entity: AssembledEntity) -> FeedRow | None:
    """The feed's rendering of one entity; None when it is not emitted."""
    texts = feed_texts(entity)
    if texts is None:
        return None
    return FeedRow(ref=entity.ref, content_hash=entity.content_hash(), yaml=texts[0], json=texts[1])


def feed_texts(entity: AssembledEntity, json: str | None = None) -> tuple[str, str] | None:
    """:func:`feed_row`'s YAML and JSON texts alone (the store has the content hash).

    ``json``: the entity's JSON text, when the caller wrote it already as this
    module writes it (the store, with the rest of the stored document).
    """
    if not entity.emitted:
        return None
    return (
        dump_document(entity.entity),
        _COMPACT(entity.entity) if json is None else json,
    )


def render_yaml(rows: Iterable[FeedRow]) -> Iterator[str]:
    """Multi-document YAML, one chunk per entity."""
    for row in rows:
        yield "---\n" + row.yaml


def render_json(rows: Iterable[FeedRow]) -> Iterator[str]:
    """``{"items": [...]}``, one chunk per entity."""
    yield '{"items": ['
    separator = "\n"
    for row in rows:
        yield separator + row.json
        separator = ",\n"
    yield "\n]}\n"
