"""Observations, snapshots and failed reads: what the sources hand the engine.

An *observation* is what one source saw about one entity in one scope at one
time: a partial entity (``fields``, keyed by field path, see
:mod:`trueup.model.fields`) plus, for actual state, the status values seen at
one *place* (a cluster and namespace). A *snapshot* is the complete set of
observations of one scope from one successful read; a *scope failure* records a
read that did not complete, and replaces nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from trueup.errors import FailureKind
from trueup.model.finding import Code, Finding, JSONValue, finding
from trueup.model.ref import EntityRef
from trueup.model.slot_init import slot_init


class Nature(StrEnum):
    INTENT = "intent"  # declared: git, catalog files
    ACTUAL = "actual"  # observed state: clusters, Terraform


@slot_init
@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a value came from: source id, scope, locator and when it was seen."""

    source: str
    scope: str
    locator: str
    observed_at: datetime

    def to_json(self, observed_at: str | None = None) -> dict[str, JSONValue]:
        """``observed_at``: the time's ISO text, when the caller has it already."""
        return {
            "source": self.source,
            "scope": self.scope,
            "locator": self.locator,
            "observed_at": self.observed_at.isoformat() if observed_at is None else observed_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> Provenance:
        return cls(
            source=str(data["source"]),
            scope=str(data["scope"]),
            locator=str(data["locator"]),
            observed_at=datetime.fromisoformat(str(data["observed_at"])),
        )


@slot_init
@dataclass(frozen=True, slots=True)
class Observation:
    """One source's partial view of one entity.

    ``ref`` is the entity the observation is about. For actual observations it
    is the fallback: the assembler first links by ``links`` (annotation key and
    value pairs a declared entity may carry, such as
    ``("backstage.io/kubernetes-id", "payments")``) and by ``selectors``
    (annotation keys whose label selector may match ``labels``).

    ``part`` names the piece of its scope the observation came from (a file of
    a catalog source), the unit a source may keep unchanged between reads
    (:attr:`Snapshot.kept`); None for sources that read their scope whole.
    """

    ref: EntityRef
    nature: Nature
    provenance: Provenance
    fields: Mapping[str, JSONValue] = field(default_factory=dict)
    place: str | None = None
    status: Mapping[str, str] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    selectors: tuple[str, ...] = ()
    # Files a field's value was read from ($text/$json/$yaml): (field path, locator).
    references: tuple[tuple[str, str], ...] = ()
    part: str | None = None
    # The fingerprint of the emission policy that found no violation in the document these
    # fields are (but for annotations its reader added), when the catalog reader validated
    # it: the assembler need not validate it again. Not stored, not compared.
    checked: str | None = field(default=None, repr=False, compare=False)

    def to_json(
        self, ref: str | None = None, observed_at: str | None = None
    ) -> dict[str, JSONValue]:
        """``ref`` and ``observed_at``: the ref's and time's text, when the caller has them
        already (the store, encoding the observations of a read that share one time)."""
        data: dict[str, JSONValue] = {
            "ref": str(self.ref) if ref is None else ref,
            "nature": self.nature.value,
            "provenance": self.provenance.to_json(observed_at),
            "fields": dict(self.fields),
            "place": self.place,
            "status": dict(self.status),
            "links": [list(pair) for pair in self.links],
            "labels": dict(self.labels),
            "selectors": list(self.selectors),
        }
        if self.references:  # only when there are some: stored observations stay as they were
            data["references"] = [list(pair) for pair in self.references]
        if self.part is not None:
            data["part"] = self.part
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> Observation:
        kind, _, rest = str(data["ref"]).partition(":")
        namespace, _, name = rest.partition("/")
        return cls(
            ref=EntityRef(kind, namespace, name),
            nature=Nature(data["nature"]),
            provenance=Provenance.from_json(data["provenance"]),
            fields=dict(data.get("fields") or {}),
            place=data.get("place"),
            status=dict(data.get("status") or {}),
            links=tuple((str(k), str(v)) for k, v in data.get("links") or ()),
            labels=dict(data.get("labels") or {}),
            selectors=tuple(data.get("selectors") or ()),
            references=tuple((str(f), str(loc)) for f, loc in data.get("references") or ()),
            part=None if data.get("part") is None else str(data["part"]),
        )


class StoredParts(Protocol):
    """The stored snapshot of a scope, read part by part (given to sources as ``previous``)."""

    @property
    def token(self) -> str:
        """Which stored state of the scope this is (the parts a read keeps are this one's)."""
        ...

    def observations(self, parts: Collection[str]) -> list[Observation]:
        """The stored observations of these parts."""
        ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The complete result of one successful read of one scope.

    ``findings`` are about the scope's inputs (an unparseable file, an invalid
    document); ``version`` names what was read (a commit, a list
    resourceVersion, a state serial) and is shown in provenance and revisions.
    """

    source: str
    scope: str
    nature: Nature
    read_at: datetime
    observations: Sequence[Observation]
    findings: tuple[Finding, ...] = ()
    version: str = ""
    # Something the revisions this read causes should say, e.g. "force-push on
    # main: 1a2b -> 3c4d"; empty for an ordinary read.
    cause: str = ""
    # Documents of each file (path -> count) that are no Backstage entity at all (a
    # Kubernetes manifest under ``**/*.yaml``): counted for the run's summary, not stored.
    ignored: Mapping[str, int] = field(default_factory=dict)
    # Incremental reads. ``parts`` is a fingerprint of every part read (a file's
    # content hash); ``kept`` names the parts whose stored observations stand
    # unchanged: they are not repeated in ``observations``. A part's observations
    # are always replaced as a whole. The part ``""`` holds the observations
    # without a part, so ``kept={""}`` keeps a whole scope that has no parts.
    # A part whose stored observations a held removal carries is stored with the
    # fingerprint HELD_PART, never the one last read: the next read of the same
    # content cannot keep it, so the removal meets the guard again (rule 5.4).
    parts: Mapping[str, str] = field(default_factory=dict)
    kept: frozenset[str] = frozenset()
    # A snapshot handed to a source as ``previous``: its parts, loaded on demand.
    stored: StoredParts | None = field(default=None, compare=False, repr=False)

    @property
    def refs(self) -> frozenset[EntityRef]:
        """The refs of ``observations`` (of a snapshot with kept parts: of its new ones only)."""
        return frozenset(o.ref for o in self.observations)


# How trueup turns unchanged input into observations: raised with any change to a parser,
# a collector or a mapping that reads the same bytes differently. Every fingerprint that
# lets a source keep a stored parse names it (the emission policy's, an export's
# settings), so the first sync after such an upgrade parses everything again instead of
# keeping what the old code made of it. (Read as ``observation.READ_RULES``.)
# 2: an entity under a %YAML 1.1 directive that Backstage reads otherwise is refused.
READ_RULES = 2

HELD_PART = "(held)"  # the fingerprint of a part whose observations a held removal carries

# The rule that refuses input holding a NUL character (U+0000): PostgreSQL keeps no NUL
# in a text column, and its JSON operators refuse ``\\u0000`` anywhere in a value, so
# one such value would fail every commit, or every read of the history, on PostgreSQL.
NUL_CHARACTER = "nul-character"
# The rule that refuses input holding a lone surrogate (U+D800 to U+DFFF): JSON's
# ``\\ud800`` escape that is not half of a pair decodes to one, which is no Unicode
# character; it cannot be encoded as UTF-8, so no hash, SQLite or PostgreSQL takes it
# and the whole commit would fail.
LONE_SURROGATE = "lone-surrogate"

_SURROGATE = re.compile("[\ud800-\udfff]")
UNSTORABLE_WHY = {  # what each rule refuses, for a message: "… holds <this>"
    NUL_CHARACTER: "a NUL character (U+0000), which cannot be stored",
    LONE_SURROGATE: (
        "a lone surrogate (a \\u escape of U+D800 to U+DFFF that is not half of a pair), "
        "which is no Unicode character and cannot be stored"
    ),
}


def unstorable_rule(text: str) -> str | None:
    """The rule ``text`` breaks as text to store (:data:`NUL_CHARACTER`, :data:`LONE_SURROGATE`).

    None for text every store takes.
    """
    if "\0" in text:
        return NUL_CHARACTER
    return LONE_SURROGATE if _unstorable(text) else None


def storable(text: str) -> bool:
    """Whether every store takes ``text``: it holds no NUL and no lone surrogate."""
    return not _unstorable(text)


def _unstorable(text: str) -> bool:
    """Whether ``text`` holds a NUL or a lone surrogate; an ASCII text (a flag) costs one ``in``."""
    if "\0" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode()  # what the store does; it fails only on a surrogate, and is 3x a search
    except UnicodeEncodeError:
        return True
    return False


def unstorable_field(observation: Observation) -> tuple[str, str] | None:
    """Where ``observation`` holds text no store takes, and the rule; None when nowhere.

    Where is a field path (``metadata.description``), ``status.<key>``,
    ``labels.<key>``, ``links.<key>``, ``place``, ``ref`` or ``locator``, shown
    storable (:func:`show_unstorable`); the rule is :data:`NUL_CHARACTER` or
    :data:`LONE_SURROGATE`. Sources that build observations from raw payloads
    (Kubernetes objects) refuse such an observation with a finding naming the
    field, as the catalog parser refuses a document
    (:mod:`trueup.parse.catalog_yaml`). It runs on every observation they read,
    so every text is checked at once, joined; only a refused one is walked.
    """
    if not _unstorable("".join(_texts(observation))):
        return None
    ref = observation.ref
    if _unstorable(ref.kind + ref.namespace + ref.name):
        return "ref", _rule(ref.kind + ref.namespace + ref.name)
    locator = observation.provenance.locator
    if _unstorable(locator):
        return "locator", _rule(locator)
    for key, value in observation.fields.items():
        if _unstorable(key) or holds_unstorable(value):
            return show_unstorable(key), unstorable_rule(key) or _value_rule(value)
    if observation.place is not None and _unstorable(observation.place):
        return "place", _rule(observation.place)
    pairs = (
        ("status", observation.status.items()),
        ("labels", observation.labels.items()),
        ("links", observation.links),
        ("references", observation.references),
    )
    for name, items in pairs:
        for key, value in items:
            if _unstorable(key + value):
                return f"{name}.{show_unstorable(key)}", _rule(key + value)
    return "selectors", _rule("".join(observation.selectors))


def _texts(observation: Observation) -> list[str]:
    """Every text of an observation (the texts of its values too), in no order."""
    ref = observation.ref
    texts = [ref.kind, ref.namespace, ref.name, observation.provenance.locator]
    texts.extend(observation.fields)
    stack: list[JSONValue] = []
    for value in observation.fields.values():
        if type(value) is str:
            texts.append(value)
        elif isinstance(value, (dict, list)):  # a tuple: `dict | list` is built on every call
            stack.append(value)
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            texts.append(node)
        elif isinstance(node, dict):
            texts.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    if observation.place is not None:
        texts.append(observation.place)
    texts.extend(observation.status)
    texts.extend(observation.status.values())
    texts.extend(observation.labels)
    texts.extend(observation.labels.values())
    for pair in (*observation.links, *observation.references):
        texts.extend(pair)
    texts.extend(observation.selectors)
    return texts


def _rule(text: str) -> str:
    return unstorable_rule(text) or NUL_CHARACTER


def _value_rule(value: JSONValue) -> str:
    """The rule a value :func:`holds_unstorable` breaks; a NUL before a surrogate."""
    return NUL_CHARACTER if holds_nul(value) else LONE_SURROGATE


def without_unstorable(
    source: str, scope: str, observations: Iterable[Observation]
) -> tuple[list[Observation], list[Finding]]:
    """The observations without those holding text no store takes, and a finding for each of those.

    For sources that build observations from raw payloads (a Kubernetes object,
    a Terraform resource instance): such an item is refused as an item the
    source cannot map is skipped, and its ``invalid-entity`` finding (about the
    scope) names it by its locator, with the field and the rule
    (:func:`unstorable_field`). The check runs on what would be stored, so a NUL
    or a lone surrogate elsewhere in an item is no reason to refuse it.
    """
    kept: list[Observation] = []
    refused: list[Finding] = []
    for observation in observations:
        flaw = unstorable_field(observation)
        if flaw is None:
            kept.append(observation)
            continue
        where, rule = flaw
        named = show_unstorable(observation.provenance.locator)
        refused.append(
            finding(
                Code.INVALID_ENTITY,
                f"scope:{source}/{scope}",
                f"{named}: {where} holds {UNSTORABLE_WHY[rule]}; it is not read [{rule}]",
                source=source,
                scope=scope,
                locator=named,
                field=where,
                rule=rule,
            )
        )
    return kept, refused


def show_unstorable(text: str) -> str:
    """``text`` with each NUL written ``\\0`` and each lone surrogate ``\\udxxx``: storable."""
    if "\0" in text:
        text = text.replace("\0", "\\0")
    if text.isascii():
        return text
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


# The rule that refuses a file whose name no store takes: a name holding bytes that are
# no UTF-8 (as the file system or git gives it, read with ``surrogateescape``) or a
# lone surrogate (a ``\\ud800`` in a JSON listing of paths).
FILE_NAME = "file-name"


def show_path(path: str) -> str:
    """``path`` storable: its bytes that are no UTF-8 written ``\\xff``, as bytes.

    For a name decoded with ``surrogateescape`` (``os.fsdecode``, git's paths), which
    reads such a byte as one of U+DC80 to U+DCFF; another lone surrogate is written
    ``\\ud800`` and a NUL ``\\0`` (:func:`show_unstorable`).
    """
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte was read as: shown as one
        return show_unstorable(path)
    return show_unstorable(raw.decode("utf-8", "backslashreplace"))


def misnamed_file(subject: str, path: str, where: str) -> Finding:
    """The ``invalid-file`` finding of a file not read for its name (rule :data:`FILE_NAME`).

    ``subject`` is the file's (of its name as :func:`show_path` shows it);
    ``where`` says what holds it (``the folder /srv/catalog``).
    """
    shown = show_path(path)
    return finding(
        Code.INVALID_FILE,
        subject,
        f"{shown}: the file in {where} is not read: its name is not UTF-8 text (a byte "
        f"that is not is shown as \\xNN), which cannot be stored [{FILE_NAME}]",
        path=shown,
        document=None,
        rule=FILE_NAME,
        line=None,
    )


def holds_unstorable(value: JSONValue) -> bool:
    """Whether a JSON value holds text no store takes (a NUL, a lone surrogate) anywhere."""
    if isinstance(value, str):
        return _unstorable(value)
    if not isinstance(value, dict | list):
        return False
    stack: list[JSONValue] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _unstorable(node):
                return True
        elif isinstance(node, dict):
            if _unstorable("".join(node)):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def holds_nul(value: JSONValue) -> bool:
    """Whether a JSON value holds a NUL character in any string or key."""
    if isinstance(value, str):
        return "\0" in value
    if not isinstance(value, dict | list):
        return False
    stack: list[JSONValue] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "\0" in node:
                return True
        elif isinstance(node, dict):
            if any("\0" in key for key in node):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def held_parts(carried: Iterable[str | None], read_parts: Mapping[str, str]) -> dict[str, str]:
    """The fingerprints of the parts that carry held observations (of ``carried`` parts).

    A part the read still has, or a named part it no longer has, gets
    :data:`HELD_PART`; a scope without parts and without fingerprints gets none.
    """
    return {part or "": HELD_PART for part in carried if part or (part or "") in read_parts}


def kept_when_unchanged(
    read: Snapshot, previous: Snapshot | None, *, unversioned: Callable[[str], str] | None = None
) -> Snapshot:
    """A scope read whole, with the stored observations kept where nothing changed.

    An observation that is as stored, its time aside, is the stored one: it
    keeps the time it was first seen with this content (as a catalog folder's
    unchanged files do). ``unversioned`` takes the version out of an
    observation's text (a git source's commit in its locators), so a file that
    did not change at a new head keeps the locator of the commit it was first
    read at: still true, and not a change to assemble. When every observation
    is as stored, the read keeps the stored ones ("kept", part ``""``) and
    costs no write and no assembly. The read carries the fingerprint of its
    content as its one part ``""``.
    """
    if any(o.part for o in read.observations):
        return read  # a source that reads parts keeps them itself
    plain = unversioned or (lambda text: text)
    texts = [plain(_timeless(o)) for o in read.observations]
    digest = hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()
    parts = {"": f"content {digest}"}
    if previous is None:
        return replace(read, parts=parts)
    if previous.parts.get("") == parts[""]:  # never when it carries held rows (HELD_PART)
        return replace(read, observations=(), parts=parts, kept=frozenset({""}))
    stored = previous.stored.observations([""]) if previous.stored else previous.observations
    seen = {plain(_timeless(o)): o for o in stored}
    observations = tuple(
        seen.get(text, o) for o, text in zip(read.observations, texts, strict=True)
    )
    return replace(read, observations=observations, parts=parts)


def _timeless(observation: Observation) -> str:
    data = observation.to_json()
    data["provenance"] = {**observation.provenance.to_json(), "observed_at": None}
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class ScopeFailure:
    """A read of one scope that did not complete. It replaces nothing."""

    source: str
    scope: str
    kind: FailureKind
    message: str
    at: datetime


ScopeRead = Snapshot | ScopeFailure

__all__ = [
    "FailureKind",
    "Nature",
    "Observation",
    "Provenance",
    "ScopeFailure",
    "ScopeRead",
    "Snapshot",
    "StoredParts",
]
