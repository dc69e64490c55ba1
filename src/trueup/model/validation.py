"""Backstage catalog-model validation, exact (research anchors-features §2.11).

:func:`validate_entity` answers "would Backstage ingest this entity?" with every
rule it breaks, pinned to ``@backstage/catalog-model`` 1.10.3: the envelope and
metadata JSON schemas, ``FieldFormatEntityPolicy``, ``NoForeignRootFieldsEntityPolicy``
and the ``kinds/*.v1alpha1.schema.json`` spec schemas of the built-in kinds, plus
the relation fields ``BuiltinKindsEntityProcessor`` parses as entity refs.

The catalog file reader runs it on every parsed document; sources that invent
entities (Kubernetes, Terraform) use the ``is_valid_*`` predicates to build
names, labels and tags Backstage will accept.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from trueup.errors import RefError
from trueup.model.ref import DEFAULT_NAMESPACE, parse_ref

BUILTIN_API_VERSIONS = frozenset({"backstage.io/v1alpha1", "backstage.io/v1beta1"})
_ROOT_FIELDS = ("apiVersion", "kind", "metadata", "spec")
# What isinstance() takes for "a mapping": dict first, answered at once; the Mapping ABC's
# own check (any other mapping) is a Python call, and every entity holds a few mappings.
_MAPPING = (dict, Mapping)

_NAME = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]").fullmatch
_DNS_LABEL = re.compile(r"[a-z0-9]+(?:-+[a-z0-9]+)*").fullmatch
_KIND = re.compile(r"[a-zA-Z][a-z0-9A-Z]*").fullmatch
_API_SUFFIX = re.compile(r"[a-z0-9A-Z]+").fullmatch
_TAG = re.compile(r"[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*").fullmatch
# What JavaScript's String.prototype.trim() removes (Backstage's isNonEmptyString).
_JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"  # noqa: E501


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: the field path, a stable rule id and a readable message."""

    field: str  # e.g. "metadata.name", "metadata.annotations[foo]", "spec.owner"
    rule: str  # e.g. "name-format", "name-length", "required", "type"
    message: str


# --- predicates (KubernetesValidatorFunctions / CommonValidatorFunctions) ---


def is_valid_name(value: object) -> bool:
    """``metadata.name``: 1-63 of ``[A-Za-z0-9]`` runs joined by ``-_.``."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and _NAME(value) is not None


def is_valid_namespace(value: object) -> bool:
    """``metadata.namespace``: a DNS label, 1-63 lowercase (``a--b`` is allowed)."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and _DNS_LABEL(value) is not None


def is_valid_dns_subdomain(value: object) -> bool:
    """Dot-separated DNS labels, at most 253 characters in all."""
    return isinstance(value, str) and _is_dns_subdomain(value)


@functools.lru_cache(maxsize=1024)  # key prefixes repeat: backstage.io, app.kubernetes.io
def _is_dns_subdomain(value: str) -> bool:
    return 1 <= len(value) <= 253 and all(is_valid_namespace(x) for x in value.split("."))


def is_valid_kind(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _KIND(value) is not None


def is_valid_api_version(value: object) -> bool:
    """``[<DNS subdomain>/]<suffix>`` with an alphanumeric suffix of 1-63."""
    return isinstance(value, str) and _is_valid_api_version(value)


@functools.lru_cache(maxsize=256)  # a catalog uses a handful of apiVersions
def _is_valid_api_version(value: str) -> bool:
    return _prefix_and_suffix(value, lambda s: 1 <= len(s) <= 63 and _API_SUFFIX(s) is not None)


# The same few dozen keys on every entity. A key is hashable (a mapping's), and every
# value that is not a string is invalid, so 1 and True may share their answer.
@functools.lru_cache(maxsize=8192)
def is_valid_label_key(value: object) -> bool:
    """``[<DNS subdomain>/]<name>``; annotation keys follow the same rule."""
    return isinstance(value, str) and _prefix_and_suffix(value, is_valid_name)


is_valid_annotation_key = is_valid_label_key


def is_valid_label_value(value: object) -> bool:
    return value == "" or is_valid_name(value)


def is_valid_tag(value: object) -> bool:
    """1-63 of ``[a-z0-9:+#]`` runs joined by single ``-``."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and _TAG(value) is not None


def is_valid_url(value: object) -> bool:
    """Whether ``new URL(value)`` (WHATWG, no base) accepts it, for common schemes."""
    return isinstance(value, str) and _whatwg_url_ok(value)


def _prefix_and_suffix(value: object, suffix_ok: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return bool(suffix_ok(parts[0]))
    return len(parts) == 2 and _is_dns_subdomain(parts[0]) and bool(suffix_ok(parts[1]))


def rejects_whole_file(violation: Violation) -> bool:
    """Whether Backstage drops every entity of the file for this violation.

    Observed with a real catalog (research/backstage-catalog-facts.md): a
    missing ``apiVersion``, ``kind`` or ``metadata.name``, or annotations that
    are not a mapping, fail the whole location; every other violation rejects
    only its own entity.
    """
    if violation.field == "<root>":
        return True
    if violation.rule == "required":
        return violation.field in ("apiVersion", "kind", "metadata", "metadata.name")
    return violation.rule == "type" and violation.field in ("metadata", "metadata.annotations")


# --- the entity ---


def validate_entity(entity: Any) -> list[Violation]:
    """Every rule the entity breaks; empty when Backstage would accept it."""
    report = _Report()
    if not isinstance(entity, _MAPPING):
        report.wrong_type("<root>", "a mapping", entity)
        return report.violations
    for key in entity:
        if key not in _ROOT_FIELDS:
            why = " (catalog-generated)" if key in ("relations", "status") else ""
            report.add(str(key), "root-field", f"unknown root field {show_value(key)}{why}")
    report.required_string(entity, "apiVersion", is_valid_api_version, "api-version-format")
    report.required_string(entity, "kind", is_valid_kind, "kind-format")
    metadata = entity.get("metadata")
    namespace = DEFAULT_NAMESPACE
    if metadata is None:
        report.add("metadata", "required", "metadata is required")
    elif not isinstance(metadata, _MAPPING):
        report.wrong_type("metadata", "a mapping", metadata)
    else:
        _check_metadata(report, metadata)
        if is_valid_namespace(metadata.get("namespace")):
            namespace = metadata["namespace"]
    _check_spec(report, entity, namespace)
    return report.violations


_EXPECT = {
    "api-version-format": "[<DNS subdomain>/]<[a-zA-Z0-9]{1,63}>",
    "kind-format": "[a-zA-Z][a-zA-Z0-9]*, at most 63 characters",
    "name-format": "sequences of [a-zA-Z0-9] separated by any of [-_.]",
    "namespace-format": "sequences of [a-z0-9] separated by [-], at most 63 characters",
    "label-key-format": "[<DNS subdomain>/]<name>",
    "annotation-key-format": "[<DNS subdomain>/]<name>",
    "label-value-format": "empty, or a name of at most 63 characters",
    "tag-format": "sequences of [a-z0-9:+#] separated by [-]",
    "metadata-field": "must not be empty",
    "spec-field": "must not be empty",
}


class _Report:
    """Collects violations; the helpers cover the checks that repeat."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, field: str, rule: str, message: str) -> None:
        self.violations.append(Violation(field, rule, message))

    def wrong_type(self, field: str, expected: str, value: object) -> None:
        self.add(field, "type", f"{field} must be {expected}, got {_kind_of(value)}")

    def required_string(self, parent: Mapping[str, Any], key: str, ok: Any, rule: str) -> None:
        if parent.get(key) is None:
            self.add(key, "required", f"{key} is required")
        else:
            self.string(key, parent[key], ok, rule)

    def string(self, field: str, value: object, ok: Any, rule: str) -> bool:
        """Check a string field; True when it is a string that passes ``ok``."""
        if not isinstance(value, str):
            self.wrong_type(field, "a string", value)
            return False
        if not ok(value):
            self.add(field, rule, f"{field} {show_value(value)} is not valid ({_EXPECT[rule]})")
            return False
        return True

    def items(self, field: str, value: object, expected: str = "a list") -> list[Any]:
        """The items of a list field (or the values of a mapping); [] after a type error."""
        if expected == "a mapping":
            if isinstance(value, _MAPPING):
                return list(value.items())
        elif isinstance(value, list):
            return list(value)
        self.wrong_type(field, expected, value)
        return []


def _check_metadata(report: _Report, meta: Mapping[str, Any]) -> None:
    name = meta.get("name")
    if name is None:
        report.add("metadata.name", "required", "metadata.name is required")
    elif isinstance(name, str) and not 1 <= len(name) <= 63:
        report.add("metadata.name", "name-length", f"name is {len(name)} characters; 1-63 allowed")
    else:
        report.string("metadata.name", name, is_valid_name, "name-format")
    if "namespace" in meta:
        report.string(
            "metadata.namespace", meta["namespace"], is_valid_namespace, "namespace-format"
        )
    for key in ("title", "uid", "etag", "description"):  # JSON schema: strings, minLength 1
        if key in meta:
            ok = (lambda _: True) if key == "description" else bool
            report.string(f"metadata.{key}", meta[key], ok, "metadata-field")
    # The field paths of labels, annotations and tags are written only for a violation:
    # an entity has a dozen of them, and most entities break no rule. An absent list or
    # mapping has nothing to check.
    if "labels" in meta:
        _check_labels(report, meta["labels"])
    if "annotations" in meta:
        _check_annotations(report, meta["annotations"])
    if "tags" in meta:
        _check_tags(report, meta["tags"])
    if "links" in meta:
        _check_links(report, meta["links"])


def validate_annotations_and_links(meta: Mapping[str, Any]) -> list[Violation]:
    """What :func:`validate_entity` finds in an entity's annotations and links (its metadata's).

    All it finds when every other part of the entity is known to break no rule:
    the assembler's entity whose other fields are a document already validated
    (:meth:`~trueup.model.emission.EmissionPolicy.revalidated`).
    """
    report = _Report()
    if "annotations" in meta:
        _check_annotations(report, meta["annotations"])
    if "links" in meta:
        _check_links(report, meta["links"])
    return report.violations


def _check_labels(report: _Report, labels: object) -> None:
    for key, value in report.items("metadata.labels", labels, "a mapping"):
        if not is_valid_label_key(key):
            message = f"label key {show_value(key)} is not valid"
            report.add(f"metadata.labels[{key}]", "label-key-format", message)
        if not is_valid_label_value(value):
            shown = show_value(value) if isinstance(value, str) else _kind_of(value)
            message = f"label value {shown} is not valid ({_EXPECT['label-value-format']})"
            report.add(f"metadata.labels[{key}]", "label-value-format", message)


def _check_annotations(report: _Report, annotations: object) -> None:
    for key, value in report.items("metadata.annotations", annotations, "a mapping"):
        if not is_valid_annotation_key(key):
            message = f"annotation key {show_value(key)} is not valid"
            report.add(f"metadata.annotations[{key}]", "annotation-key-format", message)
        if not isinstance(value, str):
            message = f"annotation value must be a string, got {_kind_of(value)}"
            report.add(f"metadata.annotations[{key}]", "annotation-value-type", message)


def _check_tags(report: _Report, tags: object) -> None:
    for i, tag in enumerate(report.items("metadata.tags", tags)):
        if is_valid_tag(tag):
            continue
        field = f"metadata.tags[{i}]"
        if isinstance(tag, str) and not 1 <= len(tag) <= 63:
            report.add(field, "tag-length", f"tag is {len(tag)} characters; 1-63 allowed")
        else:
            report.string(field, tag, is_valid_tag, "tag-format")


def _check_links(report: _Report, links: object) -> None:
    for i, link in enumerate(report.items("metadata.links", links)):
        _check_link(report, f"metadata.links[{i}]", link)


def _check_link(report: _Report, field: str, link: object) -> None:
    if not isinstance(link, _MAPPING):
        report.wrong_type(field, "a mapping", link)
        return
    url = link.get("url")
    if url is None:
        report.add(f"{field}.url", "link-url", "link url is required")
    elif not is_valid_url(url):
        report.add(
            f"{field}.url", "link-url", f"link url {show_value(url)} is not a valid absolute URL"
        )
    for key in ("title", "icon", "type"):
        value = link.get(key, "-")
        # title and icon must survive JavaScript's trim(); type only needs minLength 1.
        text = value.strip(_JS_WHITESPACE) if key != "type" and isinstance(value, str) else value
        if not isinstance(value, str) or not text:
            report.add(f"{field}.{key}", "link-field", f"link {key} must be a non-empty string")


# --- spec schemas of the built-in kinds ---

_STRING, _LIST, _REFS, _PROFILE, _PRESENCE = "string", "list", "refs", "profile", "presence"
_NO_REF = "-"  # the field is not an entity reference


@dataclass(frozen=True, slots=True)
class _SpecField:
    name: str
    path: str  # spec.<name>
    shape: str  # _STRING, _LIST (of non-empty strings), _REFS (string or list), _PROFILE, _PRESENCE
    required: bool = False
    ref_kind: str | None = _NO_REF  # default kind when parsed as a ref; None = kind required


def _f(name: str, shape: str, required: bool = False, ref: str | None = _NO_REF) -> _SpecField:
    return _SpecField(name, f"spec.{name}", shape, required, ref)


# From catalog-model 1.10.3 kinds/*.v1alpha1.schema.json and the kinds' relationFields.
# fmt: off
_KIND_SPECS: dict[str, tuple[_SpecField, ...]] = {
    "Component": (
        _f("type", _STRING, True), _f("lifecycle", _STRING, True),
        _f("owner", _STRING, True, "Group"), _f("system", _STRING, ref="System"),
        _f("subcomponentOf", _STRING, ref="Component"),
        _f("providesApis", _LIST, ref="API"), _f("consumesApis", _LIST, ref="API"),
        _f("dependsOn", _LIST, ref=None), _f("dependencyOf", _REFS, ref=None),
    ),
    "API": (
        _f("type", _STRING, True), _f("lifecycle", _STRING, True),
        _f("owner", _STRING, True, "Group"), _f("definition", _STRING, True),
        _f("system", _STRING, ref="System"),
    ),
    "Resource": (
        _f("type", _STRING, True), _f("owner", _STRING, True, "Group"),
        _f("system", _STRING, ref="System"),
        _f("dependsOn", _LIST, ref=None), _f("dependencyOf", _REFS, ref=None),
    ),
    "System": (
        _f("owner", _STRING, True, "Group"), _f("domain", _STRING, ref="Domain"),
        _f("type", _STRING),
    ),
    "Domain": (
        _f("owner", _STRING, True, "Group"), _f("subdomainOf", _STRING, ref="Domain"),
        _f("type", _STRING),
    ),
    "Group": (
        _f("type", _STRING, True), _f("children", _LIST, True, "Group"),
        _f("parent", _STRING, ref="Group"), _f("members", _LIST, ref="User"),
        _f("profile", _PROFILE),
    ),
    "User": (_f("memberOf", _LIST, True, "Group"), _f("profile", _PROFILE)),
    "Location": (
        _f("type", _STRING), _f("target", _STRING), _f("targets", _LIST),
        _f("presence", _PRESENCE),
    ),
}
# fmt: on
_KIND_SPELLING = {kind.lower(): kind for kind in _KIND_SPECS}


def _check_spec(report: _Report, entity: Mapping[str, Any], namespace: str) -> None:
    kind, spec = entity.get("kind"), entity.get("spec")
    fields = None
    api_version = entity.get("apiVersion")
    if (
        isinstance(api_version, str)
        and api_version in BUILTIN_API_VERSIONS
        and isinstance(kind, str)
    ):
        fields = _KIND_SPECS.get(kind)
        exact = _KIND_SPELLING.get(kind.lower(), kind)
        if exact != kind:  # no built-in validator claims "component": Backstage rejects it
            report.add("kind", "kind-case", f"kind {kind!r} must be spelled {exact!r}")
    if fields is None:  # a kind Backstage has no schema for: only the envelope applies
        if "spec" in entity and not isinstance(spec, _MAPPING):
            report.wrong_type("spec", "a mapping", spec)
    elif "spec" not in entity:
        report.add("spec", "required", f"spec is required for kind {kind}")
    elif not isinstance(spec, _MAPPING):
        report.wrong_type("spec", "a mapping", spec)
    else:
        for spec_field in fields:  # most kinds' fields are optional, and most are absent
            if spec_field.name in spec:
                _check_spec_field(report, spec[spec_field.name], spec_field, namespace)
            elif spec_field.required:
                report.add(spec_field.path, "required", f"{spec_field.path} is required")


def _check_spec_field(report: _Report, value: object, f: _SpecField, ns: str) -> None:
    field = f.path
    refs: list[tuple[str, Any]] = []
    if f.shape == _PRESENCE:
        if value not in ("required", "optional"):
            report.add(field, "spec-field", f"{field} must be 'required' or 'optional'")
    elif f.shape == _PROFILE:
        for key, item in report.items(field, value, "a mapping"):
            if key in ("displayName", "email", "picture"):
                report.string(f"{field}.{key}", item, bool, "spec-field")
    elif f.shape == _REFS and not isinstance(value, list):
        refs.append((field, value))  # the processor reads a single ref too; no schema here
    elif f.shape == _STRING:
        if report.string(field, value, bool, "spec-field"):
            refs.append((field, value))
    else:
        for i, item in enumerate(report.items(field, value)):
            item_field = f"{field}[{i}]"
            if f.shape == _REFS or report.string(item_field, item, bool, "spec-field"):
                refs.append((item_field, item))
    if f.ref_kind != _NO_REF:
        for ref_field, ref in refs:
            try:
                parse_ref(ref, default_kind=f.ref_kind, default_namespace=ns)
            except RefError as exc:
                report.add(ref_field, "ref-format", str(exc))


# --- WHATWG URL, the parts that decide success for absolute URLs ---

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):").match
_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_AUTHORITY_END = {True: re.compile(r"[/?#\\]").search, False: re.compile(r"[/?#]").search}
_FORBIDDEN_HOST = re.compile(r"[\x00\t\n\r #/:<>?@\[\\\]^|]").search
_FORBIDDEN_DOMAIN = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]").search
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+").fullmatch


def _whatwg_url_ok(raw: str) -> bool:
    text = raw.strip(_C0_AND_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME(text)
    if match is None:
        return False
    scheme, rest = match.group(1).lower(), text[match.end() :]
    if scheme == "file":
        return True
    special = scheme in _SPECIAL_SCHEMES
    if special:
        rest = rest.lstrip("/\\")
    elif rest.startswith("//"):
        rest = rest[2:]
    else:
        return True  # an opaque path ("mailto:x", "urn:x") always parses
    end = _AUTHORITY_END[special](rest)
    authority = (rest[: end.start()] if end else rest).rpartition("@")[2]
    if authority.startswith("["):
        host, close, port = authority[1:].partition("]")
        if not close or (port and not port.startswith(":")) or not _ipv6_ok(host):
            return False
        port = port[1:]
    else:
        host, _, port = authority.partition(":")
        if special and not host:
            return False
        if not _host_ok(host, special):
            return False
    return port == "" or (port.isascii() and port.isdigit() and int(port) <= 65535)


def _ipv6_ok(host: str) -> bool:
    if "%" in host:  # Python accepts a scope id ("fe80::1%eth0"); WHATWG does not
        return False
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _host_ok(host: str, special: bool) -> bool:
    if not special:  # an opaque host: no percent-decoding, fewer forbidden code points
        return _FORBIDDEN_HOST(host) is None
    domain = unquote(host, errors="replace") if "%" in host else host
    if "\ufffd" in domain or _FORBIDDEN_DOMAIN(domain) is not None:
        return False
    labels = domain.rstrip(".").split(".") if domain not in (".", "") else [""]
    if _IPV4_PART(labels[-1]) is None:
        return True
    return _ipv4_ok(domain)


def _ipv4_ok(domain: str) -> bool:
    """A host ending in a number must be an IPv4 address (``1.2.3.4``, ``0x7f.1``)."""
    parts = domain.split(".")
    if parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4 or any(_IPV4_PART(p) is None for p in parts):
        return False
    try:
        numbers = [_ipv4_number(p) for p in parts]
    except ValueError:  # "08": a leading zero means octal
        return False
    if any(n > 255 for n in numbers[:-1]):
        return False
    return numbers[-1] < 1 << (8 * (5 - len(numbers)))


def _ipv4_number(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    return int(part, 8 if len(part) > 1 and part[0] == "0" else 10)


def show_value(value: object, limit: int | None = 80) -> str:
    """A value for a message as YAML writes it, cut short: values can be megabytes long.

    Flow YAML (``null``, ``true``, ``.inf``, ``'it''s'``, ``['a', null]``), not
    Python's repr; a string holding a character that does not print is
    double-quoted with escapes. ``limit=None`` for a value from configuration.
    """
    text = _flow_yaml(value)
    if limit is None or len(text) <= limit:
        return text
    return f"{text[: limit - 5]}...{text[-2:]}"


def _flow_yaml(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, str):
        if value.isprintable():
            return "'" + value.replace("'", "''") + "'"
        return json.dumps(value)  # YAML's double quotes take JSON's escapes
    if isinstance(value, list):
        return "[" + ", ".join(_flow_yaml(item) for item in value) + "]"
    if isinstance(value, Mapping):
        pairs = (f"{_flow_yaml(k)}: {_flow_yaml(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return repr(value)


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__
