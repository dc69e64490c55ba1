"""The last gate before anything reaches a Backstage: every publisher reads through it.

``trueup export``, the directory sink, and the feed server and git mirror to
come call :func:`publishable` on the stored feed rows. It checks the set the way
a Backstage catalog checks a location (research/backstage-catalog-facts.md):
one entity of a kind ``catalog.rules`` does not allow, or that no processor
recognises, or without ``apiVersion``/``kind``/``metadata.name``, or whose
annotations are not a mapping, makes Backstage refuse the *whole* location, so
such a row is held back and becomes a finding instead.

The assembler already refuses such entities when it builds them (the same
:class:`~trueup.model.emission.EmissionPolicy`); this gate catches what was
stored under another policy (``backstage.kinds`` changed since the last sync)
or by an older trueup, so the feed is safe whatever is in the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from trueup.feed import FeedRow
from trueup.model.emission import LOCATION, UNSUPPORTED_KIND, EmissionPolicy
from trueup.model.finding import Code, Finding, finding
from trueup.redaction import MASK, redact_text
from trueup.yaml_text import dump_document


def publishable(
    rows: Iterable[FeedRow], policy: EmissionPolicy, held: list[Finding] | None = None
) -> Iterator[FeedRow]:
    """The rows a Backstage can ingest as one location, masked; the others go to ``held``.

    Each row is masked (:func:`masked`) before it is checked: a masked name is
    no longer a valid one.
    """
    for stored in rows:
        row = masked(stored)
        problem = _problem(row, policy)
        if problem is None:
            yield row
            continue
        if held is not None:
            rule, message = problem
            code = Code.UNSUPPORTED_KIND if rule == UNSUPPORTED_KIND else Code.INVALID_ENTITY
            held.append(
                finding(code, str(row.ref), f"held back from the feed: {message}", rule=rule)
            )


def masked(row: FeedRow) -> FeedRow:
    """``row`` with every secret known now masked (stored rows were masked when written;
    a secret learnt since is masked too).

    The JSON text is masked inside its strings. The YAML text is masked the same
    way, but a scalar written plain that began with a secret would begin with
    ``*`` (an alias to YAML: one such entity makes Backstage refuse the whole
    location); so a YAML text that shows a mask is written again from the masked
    JSON, which quotes it. A row that changes gets a content hash of its own: a
    sink that compares hashes rewrites the file it wrote before the secret was known.
    """
    yaml, text = redact_text(row.yaml), redact_text(row.json)
    if MASK in yaml:
        yaml = dump_document(json.loads(text))
    if yaml == row.yaml and text is row.json:
        return row
    return replace(
        row, yaml=yaml, json=text, content_hash=hashlib.sha256(yaml.encode()).hexdigest()
    )


def _problem(row: FeedRow, policy: EmissionPolicy) -> tuple[str, str] | None:
    """Why Backstage would refuse the whole location for this row, or None."""
    if row.ref.kind == LOCATION:
        return "location", "Location entities are followed, never re-emitted"
    if not policy.allows(row.ref.kind):
        return UNSUPPORTED_KIND, f"kind {row.ref.kind!r} is not in backstage.kinds"
    try:
        entity = json.loads(row.json)
    except ValueError:
        return "not-json", "the stored document does not decode"
    if not isinstance(entity, dict):
        return "not-a-mapping", "the stored document is not a mapping"
    return _envelope(entity, policy)


def _envelope(entity: Mapping[str, Any], policy: EmissionPolicy) -> tuple[str, str] | None:
    metadata = entity.get("metadata")
    for name, value in (
        ("apiVersion", entity.get("apiVersion")),
        ("kind", entity.get("kind")),
        ("metadata.name", metadata.get("name") if isinstance(metadata, Mapping) else None),
    ):
        if not isinstance(value, str) or not value:
            return "required", f"{name} is missing"
    annotations = metadata.get("annotations", {}) if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return "type", "metadata.annotations is not a mapping"
    recognised = policy.recognised(entity)
    if recognised:
        return recognised[0].rule, recognised[0].message
    return None
