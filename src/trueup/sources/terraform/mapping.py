"""Terraform resource instances → actual observations of Resource entities (SPEC 4.3).

Pure functions, called by :class:`~trueup.sources.terraform.source.TerraformSource`
for every state it accepted. Each managed resource instance becomes one
observation of ``resource:default/<name>``:

- the name is ``<state label>.<address>`` made a valid Backstage name
  (``payments.aws_db_instance.main``, ``prod.db.aws_s3_bucket.logs.eu``:
  ``module.`` dropped, index keys as a last segment); names over 63 characters,
  and names two addresses would share, end in a short hash of the address
  instead; a mapping rule's ``name`` replaces it (to enrich a declared entity);
- it links to a declared entity annotated ``trueup.io/terraform-address`` with
  its address; otherwise its own ref applies (a declared Resource of that name,
  or a discovered one);
- the tag or label ``backstage.io/kubernetes-id`` or ``backstage-entity``, and
  mapping rules, name the component it is a dependency of (``spec.dependencyOf``).

Fields: ``spec.type`` (a readable type such as ``database`` for the common
cloud types, else the Terraform type), ``spec.owner`` (a rule's, else the
source's ``owner``), ``spec.system`` (a rule's), ``spec.dependencyOf``,
``metadata.title`` (the address), and the annotations
``trueup.io/terraform-address``, ``-type``, ``-provider``, ``-state`` and one
``trueup.io/terraform-<attribute>`` per allow-listed attribute (see
:mod:`~trueup.sources.terraform.sensitive`). Status: ``terraform-status``,
``Ready`` or ``Tainted``. An instance whose observation would hold a NUL
character or a lone surrogate (an attribute value, a provider address) is not
read, with an ``invalid-entity`` finding naming it and the field (rule
``nul-character`` or ``lone-surrogate``).
It keeps its last good observation, the one of its address in the ``previous``
read of the state, with its old time (so it turns stale after ``max_age``), and
the finding says so (evidence ``kept``); an instance with none is the finding
alone. Refused is not removed: one bad value must not drop what was known.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from trueup.errors import ConfigError, RefError
from trueup.model.finding import Code, Finding, JSONValue, finding
from trueup.model.observation import (
    Nature,
    Observation,
    Provenance,
    unstorable_field,
    without_unstorable,
)
from trueup.model.ref import EntityRef, parse_ref
from trueup.model.validation import is_valid_name
from trueup.sources.terraform.config import TerraformSourceConfig
from trueup.sources.terraform.state import Instance, StateFile

KUBERNETES_ID = "backstage.io/kubernetes-id"
BACKSTAGE_ENTITY = "backstage-entity"
LINK_TAGS = (KUBERNETES_ID, BACKSTAGE_ENTITY)
ADDRESS = "trueup.io/terraform-address"
ANNOTATION_PREFIX = "trueup.io/terraform-"
STATUS = "terraform-status"
_ANNOTATIONS = "metadata.annotations."
_MAX_NAME = 63
_HASH = 8

# Backstage's Resource types for the cloud types people declare most; others keep
# their Terraform type.
READABLE_TYPES: Mapping[str, str] = {
    "aws_db_instance": "database",
    "aws_rds_cluster": "database",
    "aws_dynamodb_table": "database",
    "google_sql_database_instance": "database",
    "azurerm_postgresql_flexible_server": "database",
    "azurerm_mssql_database": "database",
    "aws_s3_bucket": "s3-bucket",
    "google_storage_bucket": "storage-bucket",
    "azurerm_storage_account": "storage-account",
    "aws_sqs_queue": "queue",
    "azurerm_servicebus_queue": "queue",
    "aws_sns_topic": "topic",
    "google_pubsub_topic": "topic",
    "aws_msk_cluster": "kafka-cluster",
    "aws_elasticache_cluster": "cache",
    "aws_elasticache_replication_group": "cache",
    "google_redis_instance": "cache",
    "azurerm_redis_cache": "cache",
    "aws_eks_cluster": "kubernetes-cluster",
    "google_container_cluster": "kubernetes-cluster",
    "azurerm_kubernetes_cluster": "kubernetes-cluster",
    "aws_lambda_function": "function",
}


def _wildcard(pattern: str) -> re.Pattern[str]:
    """``*`` matches any text, ``?`` one character; everything else (``[``, ``.``) is literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class MappingRule:
    """A compiled ``mappings:`` entry: what it matches and what it implies."""

    state: re.Pattern[str] | None = None
    type: re.Pattern[str] | None = None
    address: re.Pattern[str] | None = None
    tags: tuple[tuple[str, re.Pattern[str]], ...] = ()
    component: EntityRef | None = None
    name: str | None = None
    owner: str | None = None
    system: str | None = None

    def matches(self, scope: str, instance: Instance) -> bool:
        return (
            (self.state is None or self.state.match(scope) is not None)
            and (self.type is None or self.type.match(instance.type) is not None)
            and (self.address is None or self.address.match(instance.address) is not None)
            and all(
                key in instance.tags and value.match(instance.tags[key]) is not None
                for key, value in self.tags
            )
        )


@dataclass(frozen=True, slots=True)
class Rules:
    """How one source turns instances into entities."""

    owner: str | None = None
    mappings: tuple[MappingRule, ...] = ()
    include_types: tuple[re.Pattern[str], ...] = (_wildcard("*"),)
    exclude_types: tuple[re.Pattern[str], ...] = ()

    def wants(self, instance: Instance) -> bool:
        return any(p.match(instance.type) for p in self.include_types) and not any(
            p.match(instance.type) for p in self.exclude_types
        )


def rules_from_config(config: TerraformSourceConfig) -> Rules:
    """Compile a source's rules. Raises ConfigError naming the bad key."""
    where = f"source {config.id!r}"
    if config.owner is not None:
        _check_ref(config.owner, "group", f"{where}: owner")
    mappings: list[MappingRule] = []
    for index, rule in enumerate(config.mappings):
        key = f"{where}: mappings[{index}]"
        component = None
        if rule.component is not None:
            component = _check_ref(rule.component, "component", f"{key}.component")
        if rule.name is not None and not is_valid_name(rule.name):
            raise ConfigError(
                f"{key}.name: {rule.name!r} is not a valid entity name "
                "(1-63 of [A-Za-z0-9-_.], starting and ending with a letter or digit)"
            )
        if rule.owner is not None:
            _check_ref(rule.owner, "group", f"{key}.owner")
        if rule.system is not None:
            _check_ref(rule.system, "system", f"{key}.system")
        mappings.append(
            MappingRule(
                state=_wildcard(rule.state) if rule.state is not None else None,
                type=_wildcard(rule.type) if rule.type is not None else None,
                address=_wildcard(rule.address) if rule.address is not None else None,
                tags=tuple((k, _wildcard(v)) for k, v in sorted(rule.tags.items())),
                component=component,
                name=rule.name,
                owner=rule.owner,
                system=rule.system,
            )
        )
    return Rules(
        owner=config.owner,
        mappings=tuple(mappings),
        include_types=tuple(_wildcard(p) for p in config.include_types),
        exclude_types=tuple(_wildcard(p) for p in config.exclude_types),
    )


def _check_ref(text: str, default_kind: str, key: str) -> EntityRef:
    try:
        ref = parse_ref(text, default_kind=default_kind)
    except RefError as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    if not is_valid_name(ref.name):
        raise ConfigError(f"{key}: {text!r} does not name a valid entity")
    return ref


@dataclass(frozen=True, slots=True)
class StateRead:
    """Which read of which scope the observations come from."""

    source: str
    scope: str
    label: str  # the short state name that starts entity names
    observed_at: datetime


def collect(
    state: StateFile, read: StateRead, rules: Rules, previous: Iterable[Observation] = ()
) -> tuple[tuple[Observation, ...], tuple[Finding, ...]]:
    """One observation per wanted managed instance, and findings about bad links and refusals.

    ``previous`` are the observations of the state's last read, where an instance
    refused (a NUL, a lone surrogate) finds its last good one (read only when one is refused).
    """
    wanted = [i for i in state.instances if rules.wants(i)]
    matched = {i.address: [r for r in rules.mappings if r.matches(read.scope, i)] for i in wanted}
    names = _names(read, wanted, matched)
    locator = f"state {state.lineage}/{state.serial}"
    observations: list[Observation] = []
    findings: list[Finding] = []
    refusals: list[tuple[str, Finding]] = []
    for instance in wanted:
        applied = matched[instance.address]
        ref = EntityRef.of("resource", "default", names[instance.address])
        components, bad = _components(instance, applied)
        fields: dict[str, JSONValue] = {
            "spec.type": READABLE_TYPES.get(instance.type, instance.type),
            "metadata.title": instance.address,
            _ANNOTATIONS + ADDRESS: instance.address,
            _ANNOTATIONS + ANNOTATION_PREFIX + "type": instance.type,
            _ANNOTATIONS + ANNOTATION_PREFIX + "provider": instance.provider,
            _ANNOTATIONS + ANNOTATION_PREFIX + "state": read.scope,
        }
        for attribute, value in instance.attributes.items():
            fields[_ANNOTATIONS + ANNOTATION_PREFIX + attribute.replace("_", "-")] = value
        owner = _first(applied, "owner") or rules.owner
        if owner:
            fields["spec.owner"] = owner
        system = _first(applied, "system")
        if system:
            fields["spec.system"] = system
        if components:
            fields["spec.dependencyOf"] = [str(c) for c in components]
        observation = Observation(
            ref=ref,
            nature=Nature.ACTUAL,
            provenance=Provenance(
                read.source, read.scope, f"{locator}:{instance.address}", read.observed_at
            ),
            fields=fields,
            status={STATUS: "Tainted" if instance.tainted else "Ready"},
            links=((ADDRESS, instance.address),),
        )
        accepted, refused = without_unstorable(read.source, read.scope, (observation,))
        refusals.extend((instance.address, f) for f in refused)
        if accepted:
            observations.append(observation)
            findings.extend(_bad_link(ref, instance, key, value) for key, value in bad)
    if refusals:
        kept = _last_good(previous, {address for address, _ in refusals})
        observations.extend(kept.values())
        findings.extend(
            _kept_finding(f, kept[address]) if address in kept else f for address, f in refusals
        )
    observations.sort(key=lambda o: (o.ref, o.provenance.locator))
    return tuple(observations), tuple(sorted(findings, key=Finding.key))


def _last_good(previous: Iterable[Observation], addresses: set[str]) -> dict[str, Observation]:
    """The previous observation of each of these addresses (their links name them)."""
    found: dict[str, Observation] = {}
    for observation in previous:
        address = dict(observation.links).get(ADDRESS)
        if address in addresses and address not in found and unstorable_field(observation) is None:
            found[address] = observation
    return found


def _kept_finding(refusal: Finding, kept: Observation) -> Finding:
    """The refusal's finding, saying which last good observation stands in for the instance."""
    locator = kept.provenance.locator
    return replace(
        refusal,
        message=f"{refusal.message}; its last good observation ({locator}) is kept",
        evidence={**refusal.evidence, "kept": locator},
    )


def _first(rules: Sequence[MappingRule], attribute: str) -> str | None:
    for rule in rules:
        value = getattr(rule, attribute)
        if value is not None:
            return str(value)
    return None


def _components(
    instance: Instance, rules: Sequence[MappingRule]
) -> tuple[list[EntityRef], list[tuple[str, str]]]:
    """The components a tag, label or rule names, and the tags that name nothing valid."""
    found: set[EntityRef] = {r.component for r in rules if r.component is not None}
    bad: list[tuple[str, str]] = []
    for key in LINK_TAGS:
        value = instance.tags.get(key)
        if value is None:
            continue
        try:
            ref = parse_ref(value.strip(), default_kind="component")
        except RefError:
            bad.append((key, value))
            continue
        if is_valid_name(ref.name):
            found.add(ref)
        else:
            bad.append((key, value))
    return sorted(found), bad


def _bad_link(ref: EntityRef, instance: Instance, key: str, value: str) -> Finding:
    return finding(
        Code.DANGLING_REF,
        str(ref),
        f"{instance.address}: tag {key} = {value!r} is not an entity reference; "
        "this resource is linked to no component by it",
        ref=str(ref),
        tag=key,
        address=instance.address,
    )


def _names(
    read: StateRead, instances: Sequence[Instance], matched: Mapping[str, list[MappingRule]]
) -> dict[str, str]:
    """Entity names by address: a rule's name, else one derived from the address."""
    names: dict[str, str] = {}
    derived: dict[str, list[str]] = defaultdict(list)
    for instance in instances:
        named = _first(matched[instance.address], "name")
        if named is not None:
            names[instance.address] = named
        else:
            derived[derive_name(read.label, instance.address)].append(instance.address)
    for name, addresses in derived.items():
        for address in addresses:
            shared = len(addresses) > 1
            names[address] = _hashed(name, read.label, address) if shared else name
    return names


def derive_name(label: str, address: str) -> str:
    """A valid Backstage name for an address in a state (see the module docstring)."""
    text = re.sub(r"(^|\.)module\.", r"\1", address)
    text = re.sub(r'\["?', ".", text)
    text = re.sub(r'"?\]', "", text)
    slug = re.sub(r"[^a-z0-9._-]+", "-", f"{label}.{text}".lower())
    slug = re.sub(r"[-_.]{2,}", lambda m: m.group(0)[0], slug).strip("-_.")
    if slug and len(slug) <= _MAX_NAME and is_valid_name(slug):
        return slug
    return _hashed(slug, label, address)


def _hashed(slug: str, label: str, address: str) -> str:
    text = f"{label}\0{address}".encode("utf-8", "surrogatepass")  # its instance is refused
    digest = hashlib.sha256(text).hexdigest()[:_HASH]
    head = slug[: _MAX_NAME - _HASH - 1].rstrip("-_.")
    return f"{head}-{digest}" if head else f"resource-{digest}"
