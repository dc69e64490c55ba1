"""Entity references: ``[kind:][namespace/]name``, compared case-insensitively.

Backstage lowercases kind, namespace and name when it stringifies a reference
(``stringifyEntityRef``), so ``Component:default/MyService`` and
``component:default/myservice`` are one entity. ``EntityRef`` stores the
lowercased identity; the spelling a source used lives on in the entity itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from trueup.errors import RefError
from trueup.model.slot_init import slot_init

DEFAULT_NAMESPACE = "default"


@slot_init
@dataclass(frozen=True, order=True, slots=True)
class EntityRef:
    """The identity of one entity: lowercased kind, namespace and name."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, kind: str, namespace: str | None, name: str) -> EntityRef:
        return cls(kind.lower(), (namespace or DEFAULT_NAMESPACE).lower(), name.lower())

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"

    def short(self, default_kind: str | None = None) -> str:
        """The shortest reference that means this entity (for relation fields)."""
        text = self.name if self.namespace == DEFAULT_NAMESPACE else f"{self.namespace}/{self.name}"
        if default_kind is not None and default_kind.lower() == self.kind:
            return text
        return f"{self.kind}:{text}"


def parse_ref(
    text: object,
    *,
    default_kind: str | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> EntityRef:
    """Parse ``[kind:][namespace/]name`` as Backstage's ``parseEntityRef`` does.

    Raises :class:`RefError` naming what is wrong; the kind is required when no
    ``default_kind`` is given.
    """
    if not isinstance(text, str):
        raise RefError(f"entity reference must be a string, got {type(text).__name__}")
    return _parse(text, default_kind, default_namespace)


# Relation fields name the same few thousand refs over and over (every Component's
# owner and system): parsed once each. A RefError is raised anew on every call.
@lru_cache(maxsize=16384)
def _parse(text: str, default_kind: str | None, default_namespace: str) -> EntityRef:
    if not text:
        raise RefError("entity reference is empty")
    # Backstage's parseEntityRef: split at the first ':' and the first '/'; a '/'
    # before the ':' means there is no kind, and the rest is the name, whatever it holds.
    colon, slash = text.find(":"), text.find("/")
    if slash != -1 and slash < colon:
        colon = -1
    kind = text[:colon] if colon != -1 else default_kind
    namespace = text[colon + 1 : slash] if slash != -1 else default_namespace
    name = text[max(colon + 1, slash + 1) :]
    if colon != -1 and not kind:
        raise RefError(f"entity reference {text!r} has an empty kind")
    if slash != -1 and not namespace:
        raise RefError(f"entity reference {text!r} has an empty namespace")
    if not name:
        raise RefError(f"entity reference {text!r} has an empty name")
    if kind is None:
        raise RefError(f"entity reference {text!r} has no kind and none is implied here")
    return EntityRef.of(kind, namespace, name)
