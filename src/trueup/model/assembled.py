"""The assembler's output: one entity per ref, with field provenance and status per place.

These values are what the store keeps as revisions and what the sinks, API and
dashboard show. ``content_hash`` decides whether a new revision is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trueup.errors import RefError
from trueup.model.finding import Finding, JSONValue
from trueup.model.json_encoder import encode_with
from trueup.model.observation import Nature, Provenance
from trueup.model.ref import EntityRef, parse_ref
from trueup.model.slot_init import slot_init

VOLATILE_ANNOTATION = "trueup.io/observed-at"
# A status value that is missing, unrecognised or older than its source's max_age.
UNKNOWN = "Unknown"
# content_hash()'s serialiser, built once (json.dumps with options builds one per call,
# JSONEncoder.encode a C encoder per call). A value that holds itself, which no parsed
# document can, raises RecursionError (not checked for: ValueError).
_HASHED = encode_with(
    json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str, check_circular=False)
)
# The JSON of the provenances an entity's to_json() has written, by id(): fields read
# from one observation share its Provenance, rendered once.
_Provenances = dict[int, dict[str, JSONValue]]


# Candidate, FieldOrigin and PlaceStatus are made by the hundred thousand (a few dozen an
# entity): slot_init gives each a cheaper __init__.
@slot_init
@dataclass(frozen=True, slots=True)
class Candidate:
    """One source's value for one field."""

    value: JSONValue
    nature: Nature
    provenance: Provenance
    references: tuple[str, ...] = ()  # locators of the files a placeholder read it from

    def to_json(self, provenances: _Provenances | None = None) -> dict[str, JSONValue]:
        """``provenances``: the JSON of provenances already written, by id (shared, not
        rendered again: an entity's fields mostly come from one or two observations)."""
        if provenances is None:
            provenance = self.provenance.to_json()
        else:
            found = provenances.get(id(self.provenance))
            if found is None:
                found = provenances[id(self.provenance)] = self.provenance.to_json()
            provenance = found
        data = {"value": self.value, "nature": self.nature.value, **provenance}
        if self.references:
            data["references"] = list(self.references)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> Candidate:
        return cls(
            value=data["value"],
            nature=Nature(data["nature"]),
            provenance=Provenance.from_json(data),
            references=tuple(data.get("references") or ()),
        )


@slot_init
@dataclass(frozen=True, slots=True)
class FieldOrigin:
    """Who won one field, and who lost (only candidates with another value)."""

    winner: Candidate
    losers: tuple[Candidate, ...] = ()

    def to_json(self, provenances: _Provenances | None = None) -> dict[str, JSONValue]:
        return {
            "winner": self.winner.to_json(provenances),
            "losers": [c.to_json(provenances) for c in self.losers],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> FieldOrigin:
        return cls(
            winner=Candidate.from_json(data["winner"]),
            losers=tuple(Candidate.from_json(c) for c in data.get("losers") or ()),
        )


@slot_init
@dataclass(frozen=True, slots=True)
class PlaceStatus:
    """One status value at one place. ``value`` is what is shown (``Unknown`` once stale)."""

    key: str  # argocd-sync, argocd-health, crossplane-ready, crossplane-synced, replicas…
    place: str  # e.g. "prod-eu/payments"
    value: str
    last_known: str
    stale: bool
    provenance: Provenance

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "key": self.key,
            "place": self.place,
            "value": self.value,
            "last_known": self.last_known,
            "stale": self.stale,
            "provenance": self.provenance.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> PlaceStatus:
        return cls(
            key=str(data["key"]),
            place=str(data["place"]),
            value=str(data["value"]),
            last_known=str(data["last_known"]),
            stale=bool(data["stale"]),
            provenance=Provenance.from_json(data["provenance"]),
        )


@dataclass(frozen=True, slots=True)
class AssembledEntity:
    """One merged entity.

    ``entity`` is the Backstage document exactly as the feed serves it (trueup's
    annotations included). ``emitted`` is False when it fails Backstage's
    validation: then it is kept for people (explain, history) but never served
    to Backstage.
    """

    ref: EntityRef
    entity: Mapping[str, Any]
    origins: Mapping[str, FieldOrigin]
    places: tuple[PlaceStatus, ...]
    findings: tuple[Finding, ...]
    discovered: bool
    emitted: bool
    score: int
    observed_at: datetime | None = None  # oldest actual observation in use
    sources: tuple[str, ...] = field(default=())

    @property
    def owner(self) -> str | None:
        """``spec.owner`` as a full reference (``group:default/team-a``), or None."""
        spec = self.entity.get("spec") or {}
        return owner_ref(spec.get("owner") if isinstance(spec, Mapping) else None, self.ref)

    def content_hash(self) -> str:
        """Changes exactly when the entity or its findings change (not on mere re-reads)."""
        meta = dict(self.entity.get("metadata") or {})
        annotations = dict(meta.get("annotations") or {})
        annotations.pop(VOLATILE_ANNOTATION, None)  # a re-read is not a change
        meta["annotations"] = annotations
        payload = {
            "entity": {**self.entity, "metadata": meta},
            "findings": sorted(
                [f.code, f.severity.value, f.subject, f.message] for f in self.findings
            ),
            "emitted": self.emitted,
        }
        text = _HASHED(payload)
        return hashlib.sha256(text.encode()).hexdigest()

    def _judged(self) -> dict[str, JSONValue]:
        """The keys :meth:`to_json` and :meth:`to_stored` share after the fields and places."""
        return {
            "findings": [f.to_json() for f in self.findings],
            "discovered": self.discovered,
            "emitted": self.emitted,
            "score": self.score,
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
            "sources": list(self.sources),
        }

    def to_json(self) -> dict[str, JSONValue]:
        provenances: _Provenances = {}
        return {
            "ref": str(self.ref),
            "entity": self.entity,
            "origins": {path: origin.to_json(provenances) for path, origin in self.origins.items()},
            "places": [p.to_json() for p in self.places],
            **self._judged(),
        }

    def to_stored(self) -> dict[str, JSONValue]:
        """The compact form the store keeps; :meth:`from_json` reads it back.

        As :meth:`to_json`, but each provenance (with its nature) is written once, in
        ``provenances``, and fields and places refer to it by index: an entity's
        fields mostly come from one or two observations, so this is about half the
        size. A field is ``[winner, *losers]``, a candidate ``[value, provenance]``
        or ``[value, provenance, references]``.
        """
        table: list[JSONValue] = []
        index: dict[tuple[Provenance, Nature], int] = {}
        seen: dict[tuple[int, Nature], int] = {}  # by id first: hashing a Provenance costs more

        def at(provenance: Provenance, nature: Nature) -> int:
            """A provenance not seen yet (by id): its entry in the table."""
            # By value: equal provenances share an entry, so an entity read back from
            # its stored form is written as the same text again.
            found = index.get((provenance, nature))
            if found is None:
                found = index[(provenance, nature)] = len(table)
                table.append({"nature": nature.value, **provenance.to_json()})
            seen[(id(provenance), nature)] = found
            return found

        # (The calls below are many: each looks up by id before it calls at.)
        def candidate(c: Candidate) -> list[JSONValue]:
            provenance, nature = c.provenance, c.nature
            found = seen.get((id(provenance), nature))
            if found is None:
                found = at(provenance, nature)
            if c.references:
                return [c.value, found, list(c.references)]
            return [c.value, found]

        fields: dict[str, JSONValue] = {}
        for path, origin in self.origins.items():
            fields[path] = (
                [candidate(origin.winner), *map(candidate, origin.losers)]
                if origin.losers
                else [candidate(origin.winner)]
            )
        actual = Nature.ACTUAL  # (an Enum member is looked up slowly; places are many)
        places: list[JSONValue] = []
        for p in self.places:
            provenance = p.provenance
            found = seen.get((id(provenance), actual))
            if found is None:
                found = at(provenance, actual)
            places.append(
                {
                    "key": p.key,
                    "place": p.place,
                    "value": p.value,
                    "last_known": p.last_known,
                    "stale": p.stale,
                    "provenance": found,
                }
            )
        return {
            "ref": str(self.ref),
            "entity": self.entity,
            "fields": fields,
            "places": places,
            "provenances": table,
            **self._judged(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> AssembledEntity:
        """An entity from :meth:`to_json` or from its stored form (:meth:`to_stored`)."""
        kind, _, rest = str(data["ref"]).partition(":")
        namespace, _, name = rest.partition("/")
        observed = data.get("observed_at")
        if "fields" in data:
            origins, places = _stored_origins_and_places(data)
        else:
            origins = {p: FieldOrigin.from_json(o) for p, o in (data.get("origins") or {}).items()}
            places = tuple(PlaceStatus.from_json(p) for p in data.get("places") or ())
        return cls(
            ref=EntityRef(kind, namespace, name),
            entity=data["entity"],
            origins=origins,
            places=places,
            findings=tuple(Finding.from_json(f) for f in data.get("findings") or ()),
            discovered=bool(data["discovered"]),
            emitted=bool(data["emitted"]),
            score=int(data["score"]),
            observed_at=datetime.fromisoformat(str(observed)) if observed else None,
            sources=tuple(data.get("sources") or ()),
        )


def _stored_origins_and_places(
    data: Mapping[str, Any],
) -> tuple[dict[str, FieldOrigin], tuple[PlaceStatus, ...]]:
    """The origins and places of :meth:`AssembledEntity.to_stored`'s form."""
    table = [(Nature(p["nature"]), Provenance.from_json(p)) for p in data["provenances"]]

    def candidate(item: Sequence[Any]) -> Candidate:
        nature, provenance = table[item[1]]
        references = tuple(item[2]) if len(item) > 2 else ()
        return Candidate(item[0], nature, provenance, references)

    origins = {
        path: FieldOrigin(candidate(items[0]), tuple(candidate(c) for c in items[1:]))
        for path, items in data["fields"].items()
    }
    places = tuple(
        PlaceStatus(
            key=str(p["key"]),
            place=str(p["place"]),
            value=str(p["value"]),
            last_known=str(p["last_known"]),
            stale=bool(p["stale"]),
            provenance=table[p["provenance"]][1],
        )
        for p in data.get("places") or ()
    )
    return origins, places


def owner_ref(raw: object, ref: EntityRef) -> str | None:
    """An entity's ``spec.owner`` as written, made a full reference (a Group unless a kind
    is given, in the entity's namespace unless one is given); kept as written when it is
    no reference, None when it is absent or not text."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return str(parse_ref(raw, default_kind="group", default_namespace=ref.namespace))
    except RefError:
        return raw


@dataclass(frozen=True, slots=True)
class AssemblyResult:
    """Every entity, plus findings that belong to no entity (files, scopes)."""

    entities: Mapping[EntityRef, AssembledEntity]
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class EntityScore:
    """What the per-owner scorecard needs of one entity (the store keeps it as columns)."""

    ref: EntityRef
    owner: str | None
    score: int
