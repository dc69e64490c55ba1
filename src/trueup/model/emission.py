"""The emission policy: which documents are Backstage entities, and which of them may be served.

One policy, built from the ``backstage:`` configuration, decides everywhere:

- :meth:`EmissionPolicy.is_entity` tells a Backstage entity from the other YAML a
  ``**/*.yaml`` include picks up (Kubernetes, Crossplane, Kyverno, cert-manager
  manifests, Helm values, CI files): by the group of its ``apiVersion``
  (``backstage.io`` and ``*.backstage.io``, plus the apiVersions of configured
  custom kinds). Those other documents are counted and ignored, never findings.
- :meth:`EmissionPolicy.violations` answers "would the Backstage reading the feed
  accept this entity?": Backstage's own validation (:mod:`trueup.model.validation`),
  a kind allowed by ``backstage.kinds`` (else Backstage fails the *whole*
  location with ``NotAllowedError``), a kind and apiVersion some processor
  recognises (else ``No processor recognized the entity``), and the kind's
  schema (the scaffolder's Template rules, or a custom kind's JSON Schema).

Called by the descriptor parser (:mod:`trueup.sources.descriptors`), the
assembler and the publishers (:mod:`trueup.sinks.publish`). Pure: the schemas
are given, never read here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trueup.errors import RefError
from trueup.model import observation
from trueup.model.ref import parse_ref
from trueup.model.template_kind import TEMPLATE_API_VERSIONS, TEMPLATE_SCHEMA
from trueup.model.validation import (
    BUILTIN_API_VERSIONS,
    Violation,
    show_value,
    validate_annotations_and_links,
    validate_entity,
)

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

BUILTIN_KINDS = ("Component", "API", "Resource", "System", "Domain", "Group", "User")
LOCATION = "location"  # followed by the sources that read it, never emitted
UNSUPPORTED_KIND = "unsupported-kind"  # the rule of a kind the policy does not allow
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PLACEHOLDER_BYTES = 4 * 1024 * 1024
_SCHEMA_ERRORS = 5  # schema violations reported per entity at most


@dataclass(frozen=True)
class CustomKind:
    """A kind outside Backstage's built-ins: its apiVersions and its JSON Schema."""

    kind: str
    api_versions: frozenset[str]
    schema: Mapping[str, Any]

    def __post_init__(self) -> None:
        check_schema(self.schema, f"custom kind {self.kind}")


class SchemaError(ValueError):
    """A JSON Schema that is not one (raised when a policy is built, for the configuration)."""


def check_schema(schema: Mapping[str, Any], what: str) -> None:
    """Raise SchemaError when ``schema`` is not a valid JSON Schema."""
    from jsonschema import exceptions as schema_errors
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(dict(schema))
    except schema_errors.SchemaError as exc:
        raise SchemaError(f"{what}: the JSON Schema is invalid: {exc.message}") from None


@dataclass(frozen=True)
class EmissionPolicy:
    """What the feed may hold (``backstage.kinds``) and the limits of reading descriptors."""

    kinds: Collection[str] = BUILTIN_KINDS
    custom: Sequence[CustomKind] = ()
    max_file_bytes: int = MAX_FILE_BYTES
    max_placeholder_bytes: int = MAX_PLACEHOLDER_BYTES
    _allowed: frozenset[str] = field(init=False, repr=False, compare=False)
    _custom: Mapping[str, CustomKind] = field(init=False, repr=False, compare=False)
    # Built on first use: most catalogs never need JSON Schema (nor its import).
    _validators: dict[str, Validator] = field(init=False, repr=False, compare=False)
    _fingerprint: tuple[int, str] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allowed", frozenset(k.lower() for k in self.kinds))
        object.__setattr__(self, "_custom", {c.kind.lower(): c for c in self.custom})
        object.__setattr__(self, "_validators", {})

    @property
    def fingerprint(self) -> str:
        """Changes whenever the policy would parse a descriptor differently (cache keys),
        and with trueup's own parsing (:data:`~trueup.model.observation.READ_RULES`).

        Also what an observation records of the policy its document was validated
        under (:attr:`~trueup.model.observation.Observation.checked`).
        """
        known = self._fingerprint
        # computed once (every observation of a parsed file records it), for these rules
        if known is None or known[0] != observation.READ_RULES:
            known = (observation.READ_RULES, self._digest())
            object.__setattr__(self, "_fingerprint", known)
        return known[1]

    def _digest(self) -> str:
        data = {
            "read_rules": observation.READ_RULES,
            "kinds": sorted(self._allowed),
            "custom": [
                [c.kind, sorted(c.api_versions), c.schema]
                for c in sorted(self.custom, key=lambda c: c.kind)
            ],
            "max_file_bytes": self.max_file_bytes,
            "max_placeholder_bytes": self.max_placeholder_bytes,
        }
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def allows(self, kind: str) -> bool:
        """Whether entities of ``kind`` (any case) may be served."""
        return kind.lower() in self._allowed

    def is_entity(self, document: Mapping[str, Any]) -> bool:
        """Whether a parsed YAML document is meant as a Backstage entity at all.

        By the group of its ``apiVersion``; a document without a string
        apiVersion counts as one only when its kind is one Backstage knows.
        """
        api_version = document.get("apiVersion")
        if isinstance(api_version, str):
            group = api_version.partition("/")[0]
            if group == "backstage.io" or group.endswith(".backstage.io"):
                return True
            return any(api_version in c.api_versions for c in self.custom)
        kind = document.get("kind")
        if not isinstance(kind, str):
            return False
        lowered = kind.lower()
        return lowered in _KNOWN or lowered == LOCATION or lowered in self._custom

    def violations(self, entity: Mapping[str, Any]) -> list[Violation]:
        """Every reason the Backstage reading the feed would refuse ``entity``.

        A kind the policy does not allow is the one reason given (rule
        ``unsupported-kind``): nothing else matters for an entity never served.
        """
        kind = entity.get("kind")
        if isinstance(kind, str) and kind.lower() != LOCATION and not self.allows(kind):
            return [
                Violation(
                    "kind",
                    UNSUPPORTED_KIND,
                    f"kind {kind!r} is not in backstage.kinds; the Backstage reading the "
                    "feed would refuse the whole location for it",
                )
            ]
        found = validate_entity(entity)
        if not found:
            found = self.recognised(entity)
        if not found and isinstance(kind, str) and self._has_schema(kind.lower()):
            found = self._schema(kind.lower(), entity)
        return found

    def revalidated(self, entity: Mapping[str, Any]) -> list[Violation]:
        """:meth:`violations` of an entity only whose annotations and links may be new.

        For the assembler: every other field of ``entity`` is that of one document
        this policy (its :attr:`fingerprint`) found no violation in. Backstage's
        rules check each part of an entity apart, so only those two parts can
        break one now; the kind's JSON Schema (a Template's, a custom kind's) may
        constrain any part, so such an entity is validated whole.
        """
        kind = entity.get("kind")
        metadata = entity.get("metadata")
        if (isinstance(kind, str) and self._has_schema(kind.lower())) or not isinstance(
            metadata, Mapping
        ):
            return self.violations(entity)
        return validate_annotations_and_links(metadata)

    def recognised(self, entity: Mapping[str, Any]) -> list[Violation]:
        """Why no Backstage processor would claim this kind and apiVersion (exact case), if so."""
        kind, api_version = entity.get("kind"), entity.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api_version, str):
            return []  # validate_entity has said so
        lowered = kind.lower()
        expected: tuple[str, frozenset[str]] | None = None
        if lowered in _BUILTIN_SPELLING:
            expected = (_BUILTIN_SPELLING[lowered], BUILTIN_API_VERSIONS)
        elif lowered == "template":
            expected = ("Template", TEMPLATE_API_VERSIONS)
        elif lowered in self._custom:
            custom = self._custom[lowered]
            expected = (custom.kind, custom.api_versions)
        if expected is None:
            return [
                Violation("kind", "unrecognised", f"no Backstage processor knows kind {kind!r}")
            ]
        spelling, versions = expected
        if kind != spelling:
            return [Violation("kind", "kind-case", f"kind {kind!r} must be spelled {spelling!r}")]
        if api_version not in versions:
            shown = ", ".join(sorted(versions))
            return [
                Violation(
                    "apiVersion",
                    "unrecognised",
                    f"apiVersion {api_version!r} is not one a Backstage processor recognises "
                    f"for kind {kind} ({shown})",
                )
            ]
        return []

    def _has_schema(self, kind: str) -> bool:
        return kind == "template" or kind in self._custom

    def _validator(self, kind: str) -> Validator:
        validator = self._validators.get(kind)
        if validator is None:
            schema = TEMPLATE_SCHEMA if kind == "template" else self._custom[kind].schema
            validator = self._validators[kind] = _validator(schema)
        return validator

    def _schema(self, kind: str, entity: Mapping[str, Any]) -> list[Violation]:
        from jsonschema import exceptions as schema_errors
        from referencing.exceptions import Unresolvable

        validator = self._validator(kind)
        try:
            errors = sorted(validator.iter_errors(entity), key=lambda e: list(e.absolute_path))
        except (Unresolvable, schema_errors.UnknownType) as exc:
            return [
                Violation("<root>", "schema", f"the kind's JSON Schema cannot be applied: {exc}")
            ]
        found = [
            Violation(_json_path(error.absolute_path), "schema", _schema_message(error))
            for error in errors[:_SCHEMA_ERRORS]
        ]
        if kind == "template" and not found:
            found = _template_owner(entity)
        return found


def _validator(schema: Mapping[str, Any]) -> Validator:
    from jsonschema.validators import validator_for

    cls: Any = validator_for(schema)
    validator: Validator = cls(schema)
    return validator


def _schema_message(error: ValidationError) -> str:
    """jsonschema's message with the values it shows as YAML, not as Python (``null``).

    jsonschema writes the instance first, cut short here (it comes from the catalog
    file), and the schema's own value (``enum``, ``const``) after it.
    """
    message = error.message
    head = ""
    instance = repr(error.instance)
    if message == instance or message.startswith(instance + " "):
        head, message = show_value(error.instance), message[len(instance) :]
    values = error.validator_value
    shown = {
        repr(value): show_value(value, limit=None)
        for value in ([values, *values] if isinstance(values, list) else [values])
    }
    shown = {text: yaml for text, yaml in shown.items() if text != yaml}
    if shown:
        written = "|".join(re.escape(text) for text in sorted(shown, key=len, reverse=True))
        pattern = re.compile(rf"(?<![\w'\"])(?:{written})(?![\w'\"])")
        message = pattern.sub(lambda found: shown[found.group()], message)
    return head + message


def _json_path(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"


def _template_owner(entity: Mapping[str, Any]) -> list[Violation]:
    """The scaffolder parses ``spec.owner`` as an entity ref (default kind Group)."""
    spec = entity.get("spec")
    owner = spec.get("owner") if isinstance(spec, Mapping) else None
    if owner is None:
        return []
    metadata = entity.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    try:
        parse_ref(owner, default_kind="group", default_namespace=namespace or "default")
    except RefError as exc:
        return [Violation("spec.owner", "ref-format", str(exc))]
    return []


_BUILTIN_SPELLING = {k.lower(): k for k in (*BUILTIN_KINDS, "Location")}
_KNOWN = frozenset({*(k.lower() for k in BUILTIN_KINDS), "template"})

DEFAULT_POLICY = EmissionPolicy()
