"""A faster ``__init__`` for the frozen, slotted dataclasses a sync makes by the hundred thousand.

A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (its own ``__setattr__`` refuses); :func:`slot_init`
gives the class one that calls each slot's member descriptor instead, about a
third cheaper, with the same parameters, defaults and default factories.
Everything else (equality, hashing, ordering, ``repr``, ``replace()``,
pickling, the frozen error) stays the dataclass's own. Applied above
``@dataclass(frozen=True, slots=True)``; a class it cannot serve as the
dataclass would (``__post_init__``, init-only or keyword-only fields) is refused
at import.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, TypeVar

T = TypeVar("T")


class _Factory:
    """A parameter left to its default factory (shown as the dataclass's own shows it)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def slot_init(cls: type[T]) -> type[T]:
    """``cls`` with an ``__init__`` that sets its slots directly (see the module)."""
    if hasattr(cls, "__post_init__") or not hasattr(cls, "__slots__"):
        raise TypeError(f"slot_init serves slotted dataclasses without __post_init__: {cls}")
    env: dict[str, Any] = {"_FACTORY": _FACTORY}
    params: list[str] = []
    body: list[str] = []
    for item in fields(cls):  # type: ignore[arg-type]
        name = item.name
        if not item.init or item.kw_only:
            raise TypeError(f"slot_init: {cls.__name__}.{name} is not a plain init field")
        env[f"_set_{name}"] = cls.__dict__[name].__set__
        value = name
        if item.default is not MISSING:
            env[f"_default_{name}"] = item.default
            params.append(f"{name}=_default_{name}")
        elif item.default_factory is not MISSING:
            env[f"_factory_{name}"] = item.default_factory
            params.append(f"{name}=_FACTORY")
            value = f"_factory_{name}() if {name} is _FACTORY else {name}"
        else:
            params.append(name)
        body.append(f"    _set_{name}(self, {value})\n")
    source = f"def __init__(self, {', '.join(params)}):\n{''.join(body) or '    pass'}"
    exec(source, env)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = {item.name: item.type for item in fields(cls)} | {"return": None}  # type: ignore[arg-type]
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
