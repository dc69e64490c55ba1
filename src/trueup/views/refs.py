"""Turning what a person typed (``payments``, ``api:default/orders``) into one entity ref.

Called by ``trueup explain``/``history`` and the API's entity routes.
"""

from __future__ import annotations

from trueup.assemble.assembler import KIND_NAMES
from trueup.errors import ConfigError, RefError
from trueup.model.ref import EntityRef, parse_ref
from trueup.store import Store


def resolve_ref(store: Store, text: str) -> EntityRef:
    """A full ref directly; without a kind, the one built-in kind that has that name.

    One indexed lookup per built-in kind, never a scan of the catalog; an entity
    of a custom kind is named with its kind. Raises ConfigError for text that is
    no reference, or a name that several built-in kinds share.
    """
    try:
        if ":" in text:
            return parse_ref(text)
        probe = parse_ref(text, default_kind="component")
    except RefError as exc:
        raise ConfigError(f"{text!r} is not an entity reference: {exc}") from exc
    matches = [
        candidate
        for kind in KIND_NAMES
        if store.entity(candidate := EntityRef(kind, probe.namespace, probe.name)) is not None
    ]
    if len(matches) > 1:
        raise ConfigError(f"{text!r} is ambiguous: " + ", ".join(str(m) for m in matches))
    return matches[0] if matches else probe
