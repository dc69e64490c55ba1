"""An assembled entity encoded as the store writes it.

:func:`encode_entity` serialises the stored document and hashes it: what
:mod:`trueup.store.entities` needs to tell an unchanged entity from one to
rewrite. The rest (content hash, feed texts, dependency terms, finding rows; the
cause of a first revision) is computed only when a write needs it, from the assembled
entity, unless :meth:`Encoded.sealed` computed it already: then the entity
itself is dropped and the encoding can cross to another process as strings
(:mod:`trueup.parallel`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trueup.checks.relations import relation_targets
from trueup.errors import StoreError
from trueup.feed import feed_texts
from trueup.model.assembled import AssembledEntity
from trueup.model.cause import revision_cause
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef
from trueup.model.repository import repository_key
from trueup.store.engine import JSONText, json_text, json_text_with_member, load_json

RELATION = "r:"
HEAD = "h:"
DISCOVERED = "d:"
MaxAge = Mapping[str, timedelta | None]


@dataclass(frozen=True, slots=True)
class Written:
    """What writing an entity needs beyond its document, computed once."""

    content_hash: str
    feed: dict[str, Any]  # feed_yaml, feed_json, owner, score
    terms: list[str]
    findings: list[dict[str, Any]]  # its findings' rows, without the entity id


@dataclass(slots=True)
class Encoded:
    """One assembled entity's stored document with its hashes and expiry."""

    ref: EntityRef
    document: JSONText
    document_hash: str
    findings_hash: str
    expires_at: datetime | None
    entity: AssembledEntity | None  # None once sealed
    written: Written | None = None
    first_seen_in: str | None = None  # the cause of a first revision, once computed
    # The feed's JSON text, the ``entity`` of the document as encoded with it; None when
    # it is written otherwise there (see json_text_with_member), or once written.
    entity_json: str | None = None
    served: bool = True  # the feed serves it (it is emitted)

    def sealed(self) -> Encoded:
        """Everything a write may need computed now, and the entity dropped."""
        self.for_write()
        self.first_seen()
        self.entity = None
        return self

    def for_write(self) -> Written:
        """What a write of the entity needs beyond its document (computed once)."""
        if self.written is None:
            entity = self.assembled()
            self.written = Written(
                content_hash=entity.content_hash(),
                feed=_feed(entity, self.entity_json),
                terms=terms_of(entity),
                findings=[finding_row(f) for f in entity.findings],
            )
            self.entity_json = None
        return self.written

    def first_seen(self) -> str:
        """The cause of the entity's first revision: the sources it was first seen in."""
        if self.first_seen_in is None:
            self.first_seen_in = revision_cause(None, self.assembled())
        return self.first_seen_in

    def assembled(self) -> AssembledEntity:
        """The entity; read back from its document once sealed (only a change needs it)."""
        if self.entity is not None:
            return self.entity
        return AssembledEntity.from_json(load_json(self.document))


def encode_entity(
    entity: AssembledEntity, max_age: MaxAge | None, now: datetime | None = None
) -> Encoded:
    """``entity`` encoded; ``max_age`` (by source) sets its expiry, None records none.

    ``now`` is the time it was assembled at (see :func:`expires_at`).
    """
    data = entity.to_stored()
    try:
        document, entity_json = json_text_with_member(data, "entity")
    except (TypeError, ValueError) as error:
        raise StoreError(f"entity {entity.ref} cannot be stored: {error}") from error
    return Encoded(
        ref=entity.ref,
        document=document,
        document_hash=_sha256(document),
        findings_hash=_findings_hash(entity, data["findings"]),
        expires_at=expires_at(entity, max_age, now) if max_age is not None else None,
        entity=entity,
        entity_json=entity_json,
        served=entity.emitted,
    )


def expires_at(
    assembled: AssembledEntity, max_age: MaxAge, now: datetime | None = None
) -> datetime | None:
    """When the entity must be assembled again for its freshness, or None if never.

    That is when the first status it shows as fresh turns stale, or when one it
    shows as stale because it is dated further ahead than ``max_age`` (a skewed
    clock) comes within it of the clock, and turns fresh; ``now``, the time of
    the assembly, tells those from statuses that are stale because they are old.
    """
    moments = []
    for place in assembled.places:
        if (age := max_age.get(place.provenance.source)) is None:
            continue
        seen = place.provenance.observed_at
        if not place.stale:
            moments.append(seen + age)
        elif now is not None and seen - age > now:
            moments.append(seen - age)
    return min(moments) if moments else None


def terms_of(assembled: AssembledEntity) -> list[str]:
    """What the entity's checks depend on beyond its own observations."""
    terms = {
        RELATION + str(target)
        for _, _, target in relation_targets(assembled.ref, assembled.entity.get("spec"))
        if target is not None
    }
    terms.update(
        HEAD + repository_key(place.value)
        for place in assembled.places
        if place.key == "argocd-repo"
    )
    if assembled.discovered:
        terms.add(DISCOVERED)
    return sorted(terms)


def finding_row(finding: Finding) -> dict[str, Any]:
    return {
        "subject": finding.subject,
        "code": finding.code,
        "severity": finding.severity.value,
        "message": finding.message,
        "evidence": dict(finding.evidence),
    }


def _dump(assembled: AssembledEntity, data: Any) -> JSONText:
    try:
        return json_text(data)
    except (TypeError, ValueError) as error:
        raise StoreError(f"entity {assembled.ref} cannot be stored: {error}") from error


def _feed(assembled: AssembledEntity, entity_json: str | None) -> dict[str, Any]:
    """The columns read without decoding the document: feed text, owner and score."""
    texts = feed_texts(assembled, entity_json)
    return {
        "feed_yaml": texts[0] if texts else None,
        "feed_json": texts[1] if texts else None,
        "owner": assembled.owner,
        "score": assembled.score,
    }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_NO_FINDINGS_HASH = _sha256(json_text([]))  # most entities': made once


def _findings_hash(assembled: AssembledEntity, findings: Any) -> str:
    """The hash of the findings' stored text (``findings`` as :meth:`to_stored` wrote them)."""
    if not findings and isinstance(findings, list):
        return _NO_FINDINGS_HASH
    return _sha256(_dump(assembled, findings))
