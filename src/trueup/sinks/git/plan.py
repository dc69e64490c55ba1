"""What one hydration changes in the mirror: entity files, the Location, the removals it may make.

Pure (the caller reads the mirror's tree and blobs). The mirror's layout
(SPEC 6.2): one file per entity, ``<namespace>/<kind>/<name>.yaml`` in lower
case, holding exactly the document the Backstage feed serves for it, and
``all.yaml``, a Location whose relative ``targets`` name every entity file,
so that a Backstage reads the mirror through that one URL. Files are bytes
the same inputs always give, so a rerun with nothing new changes nothing.

A file whose only difference is ``trueup.io/observed-at`` (a re-read, not a
change; see revisions) is left as it is. Removals follow truth rule 4: more
than ``max_removal_ratio`` of the mirror's entities gone at once, everything
gone, or a source that failed without ever being read, and the removals are
held (their files stay) until they are accepted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from trueup.feed import FeedRow
from trueup.model.ref import EntityRef
from trueup.yaml_text import dump_document

LOCATION_FILE = "all.yaml"
# Lower-case namespace, kind and name as Backstage allows them: ``.github/workflows/x.yaml``
# and other files of the mirror repository are never taken for an entity's.
_ENTITY_FILE = re.compile(r"^([a-z0-9][a-z0-9-]*)/([a-z][a-z0-9]*)/([a-z0-9][a-z0-9._-]*)\.yaml$")
_VOLATILE = re.compile(rb"^[ \t]*trueup\.io/observed-at:[^\n]*\n", re.MULTILINE)


def entity_path(ref: EntityRef) -> str:
    """``<namespace>/<kind>/<name>.yaml``, lower case."""
    return f"{ref.namespace}/{ref.kind}/{ref.name}.yaml".lower()


def entity_of(path: str) -> EntityRef | None:
    """The entity a mirror path holds, None for any other file."""
    match = _ENTITY_FILE.match(path)
    if match is None:
        return None
    namespace, kind, name = match.groups()
    return EntityRef(kind, namespace, name)


def is_managed(path: str) -> bool:
    """Whether trueup writes this path (entity files and the Location); others are left alone."""
    return path == LOCATION_FILE or entity_of(path) is not None


def blob_id(content: bytes) -> str:
    """The id git gives a blob with this content."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def location_document(name: str, paths: Iterable[str]) -> bytes:
    """``all.yaml``: a Location entity whose relative targets are the entity files."""
    document = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": name,
            "description": "Entities hydrated by trueup, one file each",
        },
        "spec": {"targets": [f"./{path}" for path in sorted(paths)]},
    }
    return dump_document(document).encode()


@dataclass(frozen=True)
class MirrorPlan:
    """The change one hydration makes to the mirror head (``head``; None: an empty mirror)."""

    head: str | None
    added: tuple[EntityRef, ...] = ()
    changed: tuple[EntityRef, ...] = ()
    removed: tuple[EntityRef, ...] = ()
    held: tuple[EntityRef, ...] = ()  # removals held back: their files stay
    hold_reason: str = ""
    unchanged: int = 0
    changes: Mapping[str, bytes | None] = field(default_factory=dict)  # path → content or delete

    @property
    def empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class RemovalRule:
    """When removals are held (truth rule 4)."""

    max_ratio: float = 0.5
    accepted: bool = False  # released: ``trueup hydrate --accept-removals``
    incomplete: Sequence[str] = ()  # ``source/scope`` that failed without ever being read


def plan_mirror(
    rows: Iterable[FeedRow],
    head: str | None,
    tree: Mapping[str, str],
    read: Callable[[Collection[str]], Mapping[str, bytes]],
    *,
    location_name: str,
    removals: RemovalRule,
) -> MirrorPlan:
    """Compare the publishable ``rows`` with the mirror's ``tree`` (path → blob id).

    ``read`` gives the current content of the files asked for: only files whose
    blob differs from the new content are read.
    """
    wanted: dict[str, bytes] = {}
    refs: dict[str, EntityRef] = {}
    for row in rows:
        path = entity_path(row.ref)
        wanted[path] = row.yaml.encode()
        refs[path] = row.ref
    existing = {path: blob for path, blob in tree.items() if entity_of(path) is not None}
    differing = [p for p in wanted if p in existing and blob_id(wanted[p]) != existing[p]]
    current = read(differing) if differing else {}
    changes: dict[str, bytes | None] = {}
    changed: list[EntityRef] = []
    for path in differing:
        if _without_volatile(current[path]) != _without_volatile(wanted[path]):
            changes[path] = wanted[path]
            changed.append(refs[path])
    added = sorted(path for path in wanted if path not in existing)
    for path in added:
        changes[path] = wanted[path]
    gone = sorted(path for path in existing if path not in wanted)
    reason = _hold_reason(len(gone), len(existing), bool(wanted), removals)
    held = gone if reason else []
    for path in gone if not reason else ():
        changes[path] = None
    location = location_document(location_name, [*wanted, *held])
    if tree.get(LOCATION_FILE) != blob_id(location):
        changes[LOCATION_FILE] = location
    return MirrorPlan(
        head=head,
        added=tuple(refs[p] for p in added),
        changed=tuple(sorted(changed)),
        removed=tuple(_refs(gone) if not reason else ()),
        held=tuple(_refs(held)),
        hold_reason=reason,
        unchanged=len(wanted) - len(added) - len(changed),
        changes=changes,
    )


def _hold_reason(gone: int, before: int, any_left: bool, rule: RemovalRule) -> str:
    if not gone or rule.accepted:
        return ""
    if rule.incomplete:
        return (
            f"{', '.join(rule.incomplete)} failed and was never read completely: "
            "what it declares is unknown, so nothing is removed"
        )
    if not any_left:
        return "the hydration holds no entity where the mirror has some"
    share = gone / before
    if share > rule.max_ratio:
        return (
            f"it would remove {gone} of {before} entities ({share:.0%}, "
            f"above max_removal_ratio {rule.max_ratio:.0%})"
        )
    return ""


def _refs(paths: Iterable[str]) -> list[EntityRef]:
    return [ref for path in paths if (ref := entity_of(path)) is not None]


def _without_volatile(content: bytes) -> bytes:
    return _VOLATILE.sub(b"", content)
