"""Terraform state format version 4: parse, validate, reduce to a safe view.

Called by :class:`~trueup.sources.terraform.source.TerraformSource` with the
bytes a backend fetched. :func:`parse_state` is a pure function that follows
Terraform's own reader (``internal/states/statefile``: ``read.go`` and
``version4.go``) and returns either a :class:`StateFile` or a
:class:`StateError` with a reason:

- the bytes must be UTF-8 JSON (a syntax error or a truncated file names the
  byte offset) holding an object with ``"version": 4``; a missing version,
  versions 0-3 (written before Terraform 0.12) and versions above 4 are
  refused, each with its own reason;
- ``lineage`` must be present, without a NUL character or a lone surrogate;
  ``serial`` is a whole number ≥ 0;
  ``terraform_version`` must be a version string;
- every resource has ``mode`` ``managed`` or ``data``, a type, a name, a
  provider address that parses (current or legacy form) and instances whose
  ``index_key`` is a whole number or a string that agrees with ``each``, whose
  ``status`` is ``""`` or ``tainted`` and which appear only once.

Legacy ``attributes_flat`` (states upgraded from versions 1-3) are read like
``attributes``; unknown keys from newer releases (``check_results``,
``identity``) are tolerated. The result keeps managed, current (not deposed)
instances only, with their allow-listed attributes and tags, after
:mod:`~trueup.sources.terraform.sensitive` has withheld every sensitive value;
error messages are scrubbed of them too. A ``StateFile`` holds no secret.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict, cast

from trueup.model.observation import NUL_CHARACTER, show_unstorable, unstorable_rule
from trueup.sources.terraform.sensitive import (
    Secrets,
    collect_secrets,
    parse_sensitive_paths,
    safe_attributes,
    safe_tags,
    unflatten_legacy,
)

SUPPORTED_VERSION = 4
DEFAULT_REGISTRY = "registry.terraform.io"
_MAX_UINT64 = 2**64 - 1
_MAX_MESSAGE = 400


# --- raw payloads (untrusted: every read checks the type it gets) ---------------


class RawOutput(TypedDict, total=False):
    value: object
    type: object
    sensitive: bool


class RawInstance(TypedDict, total=False):
    index_key: int | str
    status: str
    deposed: str
    schema_version: int
    attributes: dict[str, object]
    attributes_flat: dict[str, str]  # legacy: a flatmap, from states upgraded from v1-v3
    sensitive_attributes: list[list[dict[str, object]]]
    identity_schema_version: int
    identity: dict[str, object]
    private: str
    dependencies: list[str]
    create_before_destroy: bool


class RawResource(TypedDict, total=False):
    module: str
    mode: str
    type: str
    name: str
    each: str
    provider: str
    instances: list[RawInstance]


class RawState(TypedDict, total=False):
    version: int
    terraform_version: str
    serial: int
    lineage: str
    outputs: dict[str, RawOutput]
    resources: list[RawResource]
    check_results: list[object]


# --- the safe view ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instance:
    """One managed resource instance, as much of it as may be shown."""

    address: str  # module.db.aws_db_instance.main["eu"]
    module: str  # "" in the root module
    type: str
    name: str
    index_key: int | str | None
    provider: str  # registry.terraform.io/hashicorp/aws
    tainted: bool
    attributes: Mapping[str, str] = field(default_factory=dict)  # allow-listed scalars
    tags: Mapping[str, str] = field(default_factory=dict)  # tags and labels


@dataclass(frozen=True, slots=True)
class StateFile:
    """A valid state v4: who wrote it, which version of it, what it manages."""

    terraform_version: str
    serial: int
    lineage: str
    digest: str  # sha256 of the state's canonical JSON: same serial, same digest
    instances: tuple[Instance, ...]
    data_sources: int = 0  # data resource instances (read, not managed: skipped)
    deposed: int = 0  # deposed objects awaiting destruction (skipped)
    # Its sensitive values, for the redaction layer; never shown.
    secrets: Secrets = field(default_factory=Secrets)


@dataclass(frozen=True, slots=True)
class StateError:
    """Why the bytes are not a usable state. The message holds no sensitive value."""

    message: str


class _InvalidStateError(Exception):
    """Raised inside this module only; ``parse_state`` turns it into a StateError."""


_VERSION_STRING = re.compile(r"^v?\d+(\.\d+)*(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_MODULE_KEY = re.compile(r'\[("(?:[^"\\]|\\.)*")\]')
_MODULE_STEP = r'module\.[A-Za-z_][A-Za-z0-9_-]*(?:\[(?:\d+|"(?:[^"\\]|\\.)*")\])?'
_MODULE = re.compile(rf"^{_MODULE_STEP}(?:\.{_MODULE_STEP})*$")
_PROVIDER = re.compile(
    rf'^(?:{_MODULE_STEP}\.)*provider\["([^"\s]+)"\](?:\.[A-Za-z_][A-Za-z0-9_-]*)?$'
)
_LEGACY_PROVIDER = re.compile(
    rf"^(?:{_MODULE_STEP}\.)*provider\.([A-Za-z0-9_-]+)(?:\.[A-Za-z_][A-Za-z0-9_-]*)?$"
)


def parse_state(data: bytes) -> StateFile | StateError:
    """Parse and validate the bytes of a state file."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return StateError(f"not UTF-8 text (byte {exc.start})")
    try:
        document: object = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode("utf-8"))
        if not text[exc.pos :].strip():
            return StateError(
                f"not valid JSON: it ends early at byte {offset} (truncated, e.g. mid-write?)"
            )
        return StateError(
            f"not valid JSON: {exc.msg} at byte {offset} (line {exc.lineno} column {exc.colno})"
        )
    except RecursionError:
        return StateError("not valid JSON: nested too deeply")
    except ValueError as exc:  # NaN or Infinity, which JSON does not have
        return StateError(f"not valid JSON: {exc}")
    if not isinstance(document, dict):
        return StateError(f"not a Terraform state: a JSON object expected, not {_kind(document)}")
    secrets = collect_secrets(document)
    try:
        return _read(cast(RawState, document), secrets)
    except _InvalidStateError as exc:
        # Scrub first, shorten after: a cut must never leave half a secret behind.
        # Storable too: a message quotes the state, and JSON's "\\ud800" is no character.
        message = show_unstorable(secrets.redact(str(exc)))
        return StateError(message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "…")


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _read(state: RawState, secrets: Secrets) -> StateFile:
    _check_version(state)
    terraform_version = state.get("terraform_version", "")
    if not isinstance(terraform_version, str) or (
        terraform_version and not _VERSION_STRING.match(terraform_version)
    ):
        raise _InvalidStateError(
            f"invalid Terraform version string {_show(terraform_version)} in terraform_version"
        )
    serial = state.get("serial", 0)
    if not _is_whole(serial) or not 0 <= serial <= _MAX_UINT64:
        raise _InvalidStateError(f"serial must be a whole number >= 0, not {_show(serial)}")
    lineage = state.get("lineage")
    if not isinstance(lineage, str) or not lineage.strip():
        raise _InvalidStateError('the state has no "lineage": it cannot be told apart from others')
    rule = unstorable_rule(lineage)  # it names every stored version of the state
    if rule is not None:
        what = "a NUL character (U+0000)" if rule == NUL_CHARACTER else "a lone surrogate"
        raise _InvalidStateError(f'the "lineage" holds {what} [{rule}]')
    outputs = state.get("outputs", {})
    if not isinstance(outputs, dict):
        raise _InvalidStateError(f'"outputs" must be an object, not {_kind(outputs)}')
    resources = state.get("resources", [])
    if not isinstance(resources, list):
        raise _InvalidStateError(f'"resources" must be a list, not {_kind(resources)}')

    reader = _Reader(secrets)
    for index, resource in enumerate(resources):
        if not isinstance(resource, dict):
            raise _InvalidStateError(f"resources[{index}] must be an object, not {_kind(resource)}")
        reader.resource(resource, index)
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return StateFile(
        terraform_version=terraform_version,
        serial=int(serial),
        lineage=lineage,
        # "surrogatepass": an instance holding a lone surrogate is refused later, not the state
        digest=hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest(),
        instances=tuple(reader.instances),
        data_sources=reader.data_sources,
        deposed=reader.deposed,
        secrets=secrets,
    )


def _check_version(state: RawState) -> None:
    if "version" not in state:
        raise _InvalidStateError('the state does not have a "version" attribute')
    version = state["version"]
    if not _is_whole(version):
        raise _InvalidStateError(f'"version" must be a whole number, not {_show(version)}')
    if version == SUPPORTED_VERSION:
        return
    if 1 <= version <= 3:
        raise _InvalidStateError(
            f"state format version {version} (written by Terraform before 0.12) is not "
            "supported; any Terraform since 0.12 rewrites it as version 4 on its next write"
        )
    if version > SUPPORTED_VERSION:
        raise _InvalidStateError(
            f"state format version {version} is not supported (only version "
            f"{SUPPORTED_VERSION}); it may have been written by a newer version of Terraform"
        )
    raise _InvalidStateError(f"state format version {version} is not valid")


class _Reader:
    """Validates resources one by one and keeps the managed, current instances."""

    def __init__(self, secrets: Secrets) -> None:
        self.secrets = secrets
        self.instances: list[Instance] = []
        self.data_sources = 0
        self.deposed = 0
        self.seen: set[tuple[str, str]] = set()
        # Per resource (or module path): sensitive key -> its placeholder.
        self.withheld: dict[str, dict[str, str]] = {}

    def withhold(self, scope: str, key: str) -> str:
        """A for_each key that is (or holds) a sensitive value, as a numbered placeholder.

        Terraform refuses sensitive for_each values, but ``nonsensitive()`` and keys
        derived from secrets still put them in the state as plain keys; they must
        never become a name, title or annotation. The number follows the state's order.
        """
        if not self.secrets.touches(key):
            return key
        numbers = self.withheld.setdefault(scope, {})
        return numbers.setdefault(key, f"(sensitive value {len(numbers) + 1})")

    def resource(self, resource: RawResource, index: int) -> None:
        mode, kind, name = resource.get("mode"), resource.get("type"), resource.get("name")
        for key, value in (("type", kind), ("name", name)):
            if not isinstance(value, str) or not _IDENTIFIER.match(value):
                raise _InvalidStateError(f"resources[{index}] has an invalid {key} {_show(value)}")
        assert isinstance(kind, str) and isinstance(name, str)
        module = resource.get("module", "")
        if not isinstance(module, str) or (module and not _MODULE.match(module)):
            raise _InvalidStateError(
                f"resource {kind}.{name} has an invalid module address {_show(module)}"
            )
        module = _MODULE_KEY.sub(lambda m: self._module_key(m, module), module)
        label = f"{module}.{kind}.{name}" if module else f"{kind}.{name}"
        if mode not in ("managed", "data"):
            raise _InvalidStateError(
                f"invalid resource mode in state: resource {label} has mode {_show(mode)}, "
                'which is not supported (only "managed" and "data")'
            )
        provider = parse_provider(resource.get("provider"))
        if provider is None:
            raise _InvalidStateError(
                f"resource {label} has an invalid provider address "
                f"{_show(resource.get('provider'))}"
            )
        each = resource.get("each")
        if each not in (None, "list", "map"):
            raise _InvalidStateError(
                f'resource {label} has "each" {_show(each)}; only "list" and "map" are valid'
            )
        instances = resource.get("instances", [])
        if not isinstance(instances, list):
            raise _InvalidStateError(f'resource {label}: "instances" must be a list')
        prefix = f"{module}." if module else ""
        prefix += f"data.{kind}.{name}" if mode == "data" else f"{kind}.{name}"
        for instance in instances:
            if not isinstance(instance, dict):
                raise _InvalidStateError(f"resource {label} has an instance that is not an object")
            self.instance(
                instance,
                prefix,
                each,
                mode == "managed",
                (module, kind, name, provider),
            )

    def instance(
        self,
        instance: RawInstance,
        prefix: str,
        each: object,
        managed: bool,
        resource: tuple[str, str, str, str],
    ) -> None:
        raw_key = _index_key(instance, prefix, each)
        raw_address = prefix + _key_suffix(raw_key)
        key = self.withhold(prefix, raw_key) if isinstance(raw_key, str) else raw_key
        address = prefix + _key_suffix(key)
        status: object = instance.get("status")
        status = "" if status is None else status  # absent, null and "" all mean ready
        if status not in ("", "tainted"):
            raise _InvalidStateError(f"instance {address} has invalid status {_show(status)}")
        deposed: object = instance.get("deposed")
        deposed = "" if deposed is None else deposed
        if not isinstance(deposed, str) or (deposed and len(deposed) != 8):
            raise _InvalidStateError(
                f"instance {address} has a deposed key {_show(deposed)}, "
                "which is not correctly formatted"
            )
        if (raw_address, deposed) in self.seen:
            what = f"deposed object {deposed!r} of {address}" if deposed else f"instance {address}"
            raise _InvalidStateError(f"{what} appears more than once in the state")
        self.seen.add((raw_address, deposed))
        attributes = _attributes(instance, address)
        if not managed:
            self.data_sources += 1
            return
        if deposed:
            self.deposed += 1
            return
        module, kind, name, provider = resource
        sensitive = parse_sensitive_paths(instance.get("sensitive_attributes"))
        self.instances.append(
            Instance(
                address=address,
                module=module,
                type=kind,
                name=name,
                index_key=key,
                provider=provider,
                tainted=status == "tainted",
                attributes=safe_attributes(kind, attributes, sensitive, self.secrets),
                tags=safe_tags(attributes, sensitive, self.secrets),
            )
        )

    def _module_key(self, match: re.Match[str], module: str) -> str:
        try:
            key = json.loads(match.group(1))
        except ValueError:  # a raw control character: Terraform writes it escaped
            raise _InvalidStateError(
                f"resource module address {_show(module)} has a module key that is not "
                "a valid string"
            ) from None
        shown = self.withhold(module[: match.start()], key)
        return match.group(0) if shown == key else f"[{json.dumps(shown)}]"


def _index_key(instance: RawInstance, prefix: str, each: object) -> int | str | None:
    raw: object = instance.get("index_key")
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # JSON has one number type; Terraform reads 1.0 as 1 too
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise _InvalidStateError(
            f"resource {prefix} has an instance with an invalid index key of type "
            f"{_kind(raw)}: only whole numbers (count) and strings (for_each) are keys"
        )
    if (each == "list" and isinstance(raw, str)) or (each == "map" and isinstance(raw, int)):
        raise _InvalidStateError(
            f"resource {prefix} has each = {each} but an instance with the {_kind(raw)} "
            f"index key {_key_suffix(raw)}"
        )
    return raw


def _attributes(instance: RawInstance, address: str) -> dict[str, object]:
    if "attributes" in instance and instance["attributes"] is not None:
        attributes = instance["attributes"]
        if not isinstance(attributes, dict):
            raise _InvalidStateError(f'instance {address}: "attributes" must be an object')
        return attributes
    flat = instance.get("attributes_flat")
    if flat is None:
        return {}  # Terraform reads this as an empty object, too
    if not isinstance(flat, dict):
        raise _InvalidStateError(f'instance {address}: "attributes_flat" must be an object')
    return unflatten_legacy(flat)


def parse_provider(raw: object) -> str | None:
    """The provider source address of a provider configuration address, or None.

    ``provider["registry.terraform.io/hashicorp/aws"].west`` →
    ``registry.terraform.io/hashicorp/aws``; the legacy ``provider.aws`` (states
    from before Terraform 0.13) → ``registry.terraform.io/-/aws``, as Terraform
    reads it.
    """
    if not isinstance(raw, str):
        return None
    match = _PROVIDER.match(raw)
    if match:
        parts = match.group(1).split("/")
        if not 1 <= len(parts) <= 3 or not all(parts):
            return None
        if len(parts) == 1:
            parts = ["hashicorp", *parts]
        if len(parts) == 2:
            parts = [DEFAULT_REGISTRY, *parts]
        return "/".join(parts)
    legacy = _LEGACY_PROVIDER.match(raw)
    if legacy:
        return f"{DEFAULT_REGISTRY}/-/{legacy.group(1)}"
    return None


def _key_suffix(key: int | str | None) -> str:
    if key is None:
        return ""
    if isinstance(key, int):
        return f"[{key}]"
    return f"[{json.dumps(key, ensure_ascii=False)}]"


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    """The JSON type of a value, for messages that must not show the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _show(value: object) -> str:
    """A scalar from the state as JSON; containers only by their type.

    Not shortened here: ``parse_state`` scrubs secrets from the whole message first.
    """
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return f"an {_kind(value)}" if _kind(value) in ("array", "object") else _kind(value)
