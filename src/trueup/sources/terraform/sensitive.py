"""What of a Terraform state may leave trueup, and what never may (SPEC 4.3).

State files hold secrets in plain text: database passwords, private keys,
tokens. Called by :mod:`trueup.sources.terraform.state` while it parses, so
that nothing sensitive ever reaches an observation, a finding or a message:

- :func:`collect_secrets` gathers every value that is sensitive — sensitive
  outputs, the paths an instance lists in ``sensitive_attributes``, attributes
  whose names say they are secret (``password``, ``token``, ``private_key``…),
  and everything of an instance whose sensitive paths cannot be read;
- :func:`safe_attributes` keeps only an allow-list of descriptive top-level
  scalars (``id``, ``arn``, ``engine``…), never a sensitive path, never a
  value that contains a secret;
- :func:`safe_tags` keeps the tags and labels the same way;
- :meth:`Secrets.redact` scrubs any text built from state data (error
  messages) before it is shown;
- :meth:`Secrets.maskable` is what the source hands to the redaction layer, so
  that a sensitive value is masked wherever else it turns up (another source's
  data, a log line, a stored row). A ``for_each`` key that is sensitive never
  becomes part of an address: :mod:`~trueup.sources.terraform.state` replaces
  it with ``(sensitive value N)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# A path into an instance's attributes: attribute names and map keys (str), list indexes (int).
AttrPath = tuple[str | int, ...]

# Descriptive top-level attributes that identify or describe a resource. Anything
# else (policies, user data, connection strings, nested blocks) stays inside trueup.
ALLOWED_ATTRIBUTES = frozenset(
    {
        "id",
        "arn",
        "name",
        "identifier",
        "cluster_identifier",
        "bucket",
        "region",
        "location",
        "zone",
        "availability_zone",
        "project",
        "engine",
        "engine_version",
        "instance_class",
        "node_type",
        "self_link",
        "url",
        "endpoint",
        "fqdn",
    }
)
# Maps of tags or labels, most complete first (tags_all includes provider default tags).
TAG_ATTRIBUTES = ("tags_all", "tags", "effective_labels", "terraform_labels", "labels")
# Attribute names (or flatmap segments) whose values are secret whatever the schema says.
SECRET_NAME = re.compile(
    r"password|passwd|passphrase|secret|token|private_key|credential|access_key|api_key"
    r"|client_key|kube_?config|connection_string|_pem$|^sas",
    re.IGNORECASE,
)
# Resource types whose every attribute may be a secret (random_string's id is its result).
SECRET_TYPE = re.compile(
    r"^(random_|tls_)|secret|password|token|credential|_key$|_key_|access_key", re.IGNORECASE
)
# A value this short is only withheld where it appears whole, not inside other text.
_MIN_CONTAINED = 4
_MAX_VALUE = 1024
_MIN_MASKED = 8
_NUMBER = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?").fullmatch
_USERINFO = re.compile(r"://[^/@\s]+@")
REDACTED = "(redacted)"
_BOOLEANS = frozenset({"true", "false"})


@dataclass(frozen=True, slots=True)
class Secrets:
    """The sensitive values of one state, for withholding and scrubbing. Never shown."""

    values: frozenset[str] = frozenset()

    def __repr__(self) -> str:  # a stray debug print must not show them either
        return f"Secrets({len(self.values)} values)"

    def touches(self, text: str) -> bool:
        """Whether ``text`` is, or contains, a sensitive value."""
        return any(
            text == secret or (len(secret) >= _MIN_CONTAINED and secret in text)
            for secret in self.values
        )

    def maskable(self) -> frozenset[str]:
        """The values the redaction layer masks everywhere (``KNOWN_SECRETS``).

        At least 8 characters and not a number: shorter ones and numbers would mask
        ordinary words and counts in every source's data. This module withholds
        them all from Terraform's own output wherever they appear.
        """
        return frozenset(
            value for value in self.values if len(value) >= _MIN_MASKED and not _NUMBER(value)
        )

    def redact(self, text: str) -> str:
        """``text`` with every sensitive value in it replaced."""
        for secret in sorted(self.values, key=len, reverse=True):
            if len(secret) >= _MIN_CONTAINED or text == secret:
                text = text.replace(secret, REDACTED)
        return text


def parse_sensitive_paths(raw: object) -> tuple[AttrPath, ...] | None:
    """An instance's ``sensitive_attributes``; None when they cannot be read.

    Terraform writes a list of cty paths, each a list of steps
    ``{"type": "get_attr", "value": "password"}`` or
    ``{"type": "index", "value": {"value": 0, "type": "number"}}``.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        return None
    paths: list[AttrPath] = []
    for path in raw:
        if not isinstance(path, list):
            return None
        steps: list[str | int] = []
        for step in path:
            parsed = _step(step)
            if parsed is None:
                return None
            steps.append(parsed)
        paths.append(tuple(steps))
    return tuple(paths)


def _step(step: object) -> str | int | None:
    if not isinstance(step, Mapping):
        return None
    kind, value = step.get("type"), step.get("value")
    if kind == "get_attr" and isinstance(value, str):
        return value
    if kind == "index" and isinstance(value, Mapping):
        key = value.get("value")
        if isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)):
            return key
        if isinstance(key, float) and key.is_integer():
            return int(key)
    return None


def leaves(value: object) -> Iterator[str]:
    """Every scalar inside a JSON value, as text."""
    if isinstance(value, Mapping):
        for inner in value.values():
            yield from leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from leaves(inner)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, str | int | float):
        yield str(value)


def at_path(value: object, path: AttrPath) -> object:
    """The value at ``path``, or None when the path leads nowhere."""
    for step in path:
        if isinstance(value, Mapping) and isinstance(step, str):
            value = value.get(step)
        elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            value = value[step]
        else:
            return None
    return value


def collect_secrets(document: Mapping[str, object]) -> Secrets:
    """Every sensitive value of a parsed state, however malformed the rest of it is."""
    found: set[str] = set()
    outputs = document.get("outputs")
    if isinstance(outputs, Mapping):
        for output in outputs.values():
            # Terraform writes "sensitive" only when true; anything but absent or
            # false is treated as sensitive.
            if not isinstance(output, Mapping):
                found.update(leaves(output))
            elif output.get("sensitive", False) is not False:
                found.update(leaves(output.get("value")))
    resources = document.get("resources")
    for resource in resources if isinstance(resources, list) else ():
        if not isinstance(resource, Mapping):
            continue
        secret_type = SECRET_TYPE.search(str(resource.get("type", ""))) is not None
        instances = resource.get("instances")
        for instance in instances if isinstance(instances, list) else ():
            if isinstance(instance, Mapping):
                found.update(_instance_secrets(instance, secret_type=secret_type))
    # Booleans are never secret enough to withhold every text that contains "true".
    return Secrets(frozenset(value for value in found if value and value not in _BOOLEANS))


def _instance_secrets(instance: Mapping[str, object], *, secret_type: bool) -> Iterator[str]:
    attributes = instance.get("attributes")
    flat = instance.get("attributes_flat")
    paths = parse_sensitive_paths(instance.get("sensitive_attributes"))
    if secret_type or paths is None:
        yield from leaves(attributes)
        yield from leaves(flat)
        return
    for path in paths:
        yield from leaves(at_path(attributes, path))
    yield from _named_secrets(attributes)
    if isinstance(flat, Mapping):
        for key, value in flat.items():
            if any(SECRET_NAME.search(part) for part in str(key).split(".")):
                yield from leaves(value)


def _named_secrets(value: object) -> Iterator[str]:
    """Values under keys that are named like secrets, at any depth."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(key, str) and SECRET_NAME.search(key):
                yield from leaves(inner)
            else:
                yield from _named_secrets(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _named_secrets(inner)


def _shown(value: object, secrets: Secrets) -> str | None:
    """A scalar as text, if it may be shown."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        return None
    if not text or len(text) > _MAX_VALUE or _USERINFO.search(text) or secrets.touches(text):
        return None
    return text


def _covered(path: AttrPath, sensitive: tuple[AttrPath, ...]) -> bool:
    """Whether ``path`` is sensitive: a sensitive path is a prefix of it, or inside it."""
    return any(path[: len(marked)] == marked or marked[: len(path)] == path for marked in sensitive)


def safe_attributes(
    resource_type: str,
    attributes: Mapping[str, object],
    sensitive: tuple[AttrPath, ...] | None,
    secrets: Secrets,
) -> dict[str, str]:
    """The allow-listed, non-sensitive scalar attributes of one instance."""
    if sensitive is None or SECRET_TYPE.search(resource_type):
        return {}
    out: dict[str, str] = {}
    for name in sorted(ALLOWED_ATTRIBUTES & set(attributes)):
        if SECRET_NAME.search(name) or _covered((name,), sensitive):
            continue
        text = _shown(attributes[name], secrets)
        if text is not None:
            out[name] = text
    return out


def safe_tags(
    attributes: Mapping[str, object],
    sensitive: tuple[AttrPath, ...] | None,
    secrets: Secrets,
) -> dict[str, str]:
    """The non-sensitive tags and labels of one instance (``tags_all`` wins over ``tags``)."""
    if sensitive is None:
        return {}
    out: dict[str, str] = {}
    for attribute in TAG_ATTRIBUTES:
        tags = attributes.get(attribute)
        if not isinstance(tags, Mapping) or _covered((attribute,), sensitive):
            continue
        for key, value in tags.items():
            if not isinstance(key, str) or key in out or SECRET_NAME.search(key):
                continue
            if _covered((attribute, key), sensitive) or secrets.touches(key):
                continue
            text = _shown(value, secrets) if isinstance(value, str) else None
            if text is not None:
                out[key] = text
    return out


def unflatten_legacy(flat: Mapping[str, object]) -> dict[str, object]:
    """The top-level scalars and tag maps of a legacy ``attributes_flat`` flatmap.

    ``{"id": "x", "tags.%": "1", "tags.team": "a"}`` → ``{"id": "x", "tags": {"team": "a"}}``;
    nested lists and blocks are left out (nothing of them is ever shown).
    """
    out: dict[str, object] = {}
    for key, value in flat.items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        head, dot, rest = key.partition(".")
        if not dot:
            out[head] = value
        elif head in TAG_ATTRIBUTES and rest not in ("%", "#"):
            tags = out.setdefault(head, {})
            if isinstance(tags, dict):
                tags[rest] = value
    return out
