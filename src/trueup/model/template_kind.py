"""The rules of the scaffolder's ``Template`` kind (``scaffolder.backstage.io/v1beta3``).

What the scaffolder backend's entity processor checks beyond the envelope, as a
JSON Schema applied by :class:`~trueup.model.emission.EmissionPolicy` when
``Template`` is among ``backstage.kinds``: a ``spec`` with a non-empty string
``type``, a list of ``steps`` each naming its ``action``, and the optional
fields in their documented shapes. Written for trueup from the documented
rules of ``@backstage/plugin-scaffolder-common``; the envelope (names,
annotations, tags) is :mod:`trueup.model.validation`'s.
"""

from __future__ import annotations

from typing import Any

TEMPLATE_API_VERSIONS = frozenset({"scaffolder.backstage.io/v1beta3"})

_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
_CONDITION: dict[str, Any] = {"type": ["string", "boolean"]}
_PERMISSIONS: dict[str, Any] = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
}
_FORM: dict[str, Any] = {"type": "object", "properties": {"backstage:permissions": _PERMISSIONS}}

TEMPLATE_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["type", "steps"],
            "properties": {
                "type": _TEXT,
                "owner": _TEXT,
                "lifecycle": _TEXT,
                "parameters": {"oneOf": [_FORM, {"type": "array", "items": _FORM}]},
                "secrets": {"type": "object", "properties": {"schema": {"type": "object"}}},
                "presentation": {"type": "object"},
                "steps": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["action"],
                        "properties": {
                            "id": {"type": "string"},
                            "name": {"type": "string"},
                            "action": {"type": "string"},
                            "input": {"type": "object"},
                            "if": _CONDITION,
                            "backstage:permissions": _PERMISSIONS,
                        },
                    },
                },
                "output": {
                    "type": "object",
                    "properties": {
                        "links": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "if": _CONDITION,
                                    "url": _TEXT,
                                    "entityRef": _TEXT,
                                    "title": _TEXT,
                                    "icon": _TEXT,
                                },
                            },
                        },
                        "text": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "if": _CONDITION,
                                    "title": _TEXT,
                                    "icon": _TEXT,
                                    "content": {"type": "string"},
                                },
                            },
                        },
                    },
                    "additionalProperties": {"type": "string"},
                },
            },
        }
    },
}
