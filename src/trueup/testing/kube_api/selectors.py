"""Label and field selectors of the loopback API server: which objects a list or watch sees.

Used by :mod:`~trueup.testing.kube_api.cluster_state` (lists at a resourceVersion) and
:mod:`~trueup.testing.kube_api.handler` (query parameters). Label selectors are
parsed with the full set-based grammar (``k=v``, ``k==v``, ``k!=v``,
``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``), independently of trueup's
own selector code, so the tests of the live source do not share its bugs.
Field selectors support ``metadata.name`` and ``metadata.namespace``, as a real
server does for a custom resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]  # one JSON object as it travels over the wire
Requirement = Callable[[Mapping[str, str]], bool]
FieldTest = Callable[[Obj], bool]


class BadRequestError(Exception):
    """A request the real server refuses with 400 BadRequest."""


_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|!=|=|\s+in\s+|\s+notin\s+)\s*(?P<value>\([^)]*\)|[-A-Za-z0-9_.]*))?\s*$"
)


def _split_selector(text: str) -> Iterator[str]:
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            yield text[start:i]
            start = i + 1
    yield text[start:]


def _absent(key: str) -> Requirement:
    return lambda labels: key not in labels


def _present(key: str) -> Requirement:
    return lambda labels: key in labels


def _equals(key: str, value: str) -> Requirement:
    return lambda labels: labels.get(key) == value


def _differs(key: str, value: str) -> Requirement:
    return lambda labels: labels.get(key) != value


def _among(key: str, values: frozenset[str]) -> Requirement:
    return lambda labels: labels.get(key) in values


def _not_among(key: str, values: frozenset[str]) -> Requirement:
    return lambda labels: labels.get(key) not in values


def parse_label_selector(text: str) -> list[Requirement]:
    """The requirements of a selector (an AND); raises BadRequestError when malformed."""
    requirements: list[Requirement] = []
    if not text.strip():
        return requirements
    for part in _split_selector(text):
        match = _REQUIREMENT.match(part)
        if not match:
            raise BadRequestError(f"unable to parse requirement: {part!r}")
        key, op, value = match["key"], (match["op"] or "").strip(), match["value"]
        if match["neg"]:
            if op:
                raise BadRequestError(f"unable to parse requirement: {part!r}")
            requirements.append(_absent(key))
        elif not op:
            requirements.append(_present(key))
        elif op in ("=", "=="):
            requirements.append(_equals(key, value))
        elif op == "!=":
            requirements.append(_differs(key, value))
        else:
            if not value or not value.startswith("("):
                raise BadRequestError(f"unable to parse requirement: {part!r}")
            values = frozenset(v.strip() for v in value[1:-1].split(",") if v.strip())
            requirements.append(_among(key, values) if op == "in" else _not_among(key, values))
    return requirements


def _field_is(attribute: str, value: str, *, equal: bool) -> FieldTest:
    return lambda obj: (obj["metadata"].get(attribute, "") == value) is equal


def parse_field_selector(text: str) -> list[FieldTest]:
    """Only ``metadata.name`` and ``metadata.namespace``, as for a custom resource."""
    tests: list[FieldTest] = []
    for part in (p for p in text.split(",") if p.strip()):
        match = re.match(r"^\s*([A-Za-z.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not match:
            raise BadRequestError(f"invalid field selector: {part!r}")
        name, op, value = match.groups()
        if name not in ("metadata.name", "metadata.namespace"):
            raise BadRequestError(f"field label not supported: {name}")
        tests.append(_field_is(name.split(".")[1], value, equal=op != "!="))
    return tests


@dataclass(frozen=True)
class Filter:
    """Which objects a list or watch sees: namespace, label and field selectors."""

    namespace: str | None = None
    labels: tuple[Requirement, ...] = ()
    fields: tuple[FieldTest, ...] = ()

    def matches(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = obj["metadata"]
        if self.namespace is not None and meta.get("namespace", "") != self.namespace:
            return False
        labels = meta.get("labels") or {}
        return all(r(labels) for r in self.labels) and all(f(obj) for f in self.fields)
