"""What the file source's previous read left, file by file: observations and fingerprints.

Called by :mod:`trueup.sources.file.source` while it walks the folder. Each file
is a *part* of the scope (``Observation.part``); its fingerprint
(:func:`part_fingerprint`) is the file's content hash, a hash of the versions
of the files its placeholders read (when it has any), a hash of the settings it
was parsed under (:func:`settings_hash`: the emission policy, the folder), and
a mark when it declares a Location (whose targets are followed). The store
keeps the fingerprint with the observations, in the same commit: a part parsed
under other settings is parsed again, whatever ``files.json`` (written before
the commit, which may never land) says.

Two shapes of previous read: a snapshot held in memory (:class:`InMemoryPrevious`,
a source driven by hand or a test) and a stored one (:class:`StoredPrevious`,
``Snapshot.stored``), whose observations load only for the files that need them:
an unchanged file is kept by the store as it is and never loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from trueup.model.observation import Observation, StoredParts
from trueup.sources.descriptors import LocationTarget, observation_targets

_HAS_LOCATION = "location"
_DEPENDS = "deps:"
_SETTINGS = "settings:"

Dependencies = Sequence[tuple[str, str | None]]  # (referenced path, its version)


def part_fingerprint(
    digest: str, dependencies: Dependencies, observations: Iterable[Observation], settings: str
) -> str:
    """One file's fingerprint: its content hash, what its placeholders read, the
    settings it was parsed under (:func:`settings_hash`), a Location mark (last)."""
    words = [digest]
    if dependencies:
        words.append(_DEPENDS + dependency_hash(dependencies))
    words.append(_SETTINGS + settings)
    if any(o.ref.kind == "location" for o in observations):
        words.append(_HAS_LOCATION)
    return " ".join(words)


def settings_hash(policy: str, root: str) -> str:
    """A short hash of what a parse depends on besides the bytes and the referenced files:
    the emission policy's fingerprint and the folder (each source location names it)."""
    return hashlib.sha256(f"{policy}\0{root}".encode()).hexdigest()[:16]


def dependency_hash(dependencies: Dependencies) -> str:
    """A short hash of the referenced files and their versions, in any order."""
    text = "\n".join(f"{path}\0{version or ''}" for path, version in sorted(dependencies))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Previous:
    """The previous read's observations by file, and whether a file is as it was read."""

    prints: Mapping[str, str]  # each file's fingerprint, as the previous read gave it

    def get(self, path: str, default: tuple[Observation, ...] = ()) -> tuple[Observation, ...]:
        raise NotImplementedError

    def unchanged(self, path: str, digest: str, marker: str, documents: object) -> bool:
        """The previous read parsed these bytes (and ``documents`` observations) of ``path``."""
        raise NotImplementedError

    def matches(self, path: str, dependencies: Dependencies) -> bool:
        """The previous read of ``path`` depended on exactly these referenced versions."""
        return True

    def fingerprint(self, path: str) -> str | None:
        """The stored fingerprint of a file (None for a snapshot held in memory)."""
        return None

    def settled(self, path: str, settings: str) -> bool:
        """The previous read of ``path`` was parsed under these settings (its fingerprint
        says; a fingerprint without settings, from before they were recorded, does not)."""
        return _SETTINGS + settings in self.prints.get(path, "").split(" ")[1:]

    def kept_targets(self, path: str) -> list[LocationTarget]:
        return observation_targets(self.get(path))


class InMemoryPrevious(Previous):
    """A previous snapshot given whole (tests, a source driven by hand)."""

    def __init__(
        self, by_path: dict[str, tuple[Observation, ...]], prints: Mapping[str, str]
    ) -> None:
        self.by_path = by_path
        self.prints = prints

    def get(self, path: str, default: tuple[Observation, ...] = ()) -> tuple[Observation, ...]:
        return self.by_path.get(path, default)

    def unchanged(self, path: str, digest: str, marker: str, documents: object) -> bool:
        before = self.by_path.get(path, ())
        if documents != len(before):
            return False
        return all(o.provenance.locator.startswith(marker) for o in before)


class StoredPrevious(Previous):
    """A stored snapshot: fingerprints up front, a file's observations only when asked."""

    def __init__(self, stored: StoredParts, prints: Mapping[str, str]) -> None:
        self.stored = stored
        self.prints = prints
        self.loaded: dict[str, tuple[Observation, ...]] = {}

    def get(self, path: str, default: tuple[Observation, ...] = ()) -> tuple[Observation, ...]:
        if path not in self.prints:
            return default
        if path not in self.loaded:
            self.loaded[path] = tuple(self.stored.observations([path]))
        return self.loaded[path] or default

    def unchanged(self, path: str, digest: str, marker: str, documents: object) -> bool:
        return self.prints.get(path, "").split(" ")[0] == digest

    def matches(self, path: str, dependencies: Dependencies) -> bool:
        """The stored part was parsed with these referenced versions (its fingerprint says)."""
        words = self.prints.get(path, "").split(" ")[1:]
        stored = next((w[len(_DEPENDS) :] for w in words if w.startswith(_DEPENDS)), None)
        return stored == (dependency_hash(dependencies) if dependencies else None)

    def fingerprint(self, path: str) -> str | None:
        return self.prints.get(path)

    def kept_targets(self, path: str) -> list[LocationTarget]:
        if not self.prints.get(path, "").endswith(" " + _HAS_LOCATION):
            return []
        return observation_targets(self.get(path))


__all__ = [
    "InMemoryPrevious",
    "Previous",
    "StoredPrevious",
    "dependency_hash",
    "part_fingerprint",
    "settings_hash",
]
