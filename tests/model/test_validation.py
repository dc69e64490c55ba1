# ruff: noqa: E501  (a table reads best one case per line)
"""Backstage catalog-model 1.10.3 validation: what it accepts and what it rejects.

Each invalid case names every (field, rule) it must produce, and nothing else.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from trueup.model.validation import (
    Violation,
    is_valid_api_version,
    is_valid_kind,
    is_valid_label_key,
    is_valid_label_value,
    is_valid_name,
    is_valid_namespace,
    is_valid_tag,
    is_valid_url,
    rejects_whole_file,
    validate_annotations_and_links,
    validate_entity,
)

DELETE = object()
BACKSTAGE = "backstage.io/v1alpha1"
SPECS: dict[str, dict[str, Any]] = {
    "Component": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    "API": {"type": "openapi", "lifecycle": "production", "owner": "team-a", "definition": "x"},
    "Resource": {"type": "database", "owner": "team-a"},
    "System": {"owner": "team-a"},
    "Domain": {"owner": "team-a"},
    "Group": {"type": "team", "children": []},
    "User": {"memberOf": []},
    "Location": {},
}


def entity(kind: str = "Component", api_version: str = BACKSTAGE, /, **changes: Any) -> Any:
    """A valid entity of ``kind`` with ``changes`` applied (``metadata__name`` sets a path)."""
    result: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "payments"},
        "spec": copy.deepcopy(SPECS.get(kind, {})),
    }
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = result
        for part in parents:
            target = target.setdefault(part, {})
        if value is DELETE:
            target.pop(last, None)
        else:
            target[last] = value
    return result


def meta(**fields: Any) -> Any:
    return entity(**{f"metadata__{k}": v for k, v in fields.items()})


def spec(kind: str = "Component", /, **fields: Any) -> Any:
    return entity(kind, **{f"spec__{k}": v for k, v in fields.items()})


PREFIX_253 = ".".join(["a" * 63] * 4)  # 4 * 63 + 3 dots = 255: trimmed below
PREFIX_253 = PREFIX_253[:253]
PREFIX_254 = PREFIX_253[:-1] + "bb"
assert len(PREFIX_253) == 253 and len(PREFIX_254) == 254

VALID: list[tuple[str, Any]] = [
    ("minimal component", entity()),
    ("v1beta1 component", entity("Component", "backstage.io/v1beta1")),
    (
        "full component",
        entity(
            metadata={
                "name": "payments-api",
                "namespace": "payments",
                "title": "Payments API",
                "description": "",
                "labels": {"app.kubernetes.io/name": "payments", "tier": "", "x": "a" * 63},
                "annotations": {"backstage.io/techdocs-ref": "dir:.", "foo": "", "b": "x" * 9999},
                "tags": ["java", "c++", "c#", "k8s:v1", "a-b-c"],
                "links": [
                    {"url": "https://grafana.example.com/d/x", "title": "Dash", "icon": "dash"},
                    {"url": "mailto:team@example.com", "type": "contact"},
                ],
                "uid": "abc",
                "custom": {"any": ["thing"]},
            },
            spec={
                **SPECS["Component"],
                "system": "checkout",
                "subcomponentOf": "component:shop",
                "providesApis": ["payments-api"],
                "consumesApis": ["default/ledger"],
                "dependsOn": ["resource:payments-db"],
                "dependencyOf": "component:checkout",
                "extra": 1,
            },
        ),
    ),
    ("name of 63 characters", meta(name="a" * 63)),
    ("name of one character", meta(name="a")),
    ("name mixing [-_.] and case", meta(name="My_Service.v2-beta")),
    ("namespace a--b (\\-+ in 1.10.3)", meta(namespace="a--b")),
    ("namespace of 63 characters", meta(namespace="n" * 63)),
    ("custom kind of 63 characters", entity("K" * 63, "example.com/v1", spec=DELETE)),
    ("apiVersion without a prefix", entity("Thing", "v1")),
    ("apiVersion with a 253-character prefix", entity("Thing", PREFIX_253 + "/v1")),
    ("label key with a 253-character prefix", meta(labels={PREFIX_253 + "/name": "x"})),
    ("annotation key with underscores", meta(annotations={"example.com/some_key.v2": "x"})),
    ("template kind has no spec schema", entity("Template", "scaffolder.backstage.io/v1beta3")),
    ("unknown kind with a builtin apiVersion", entity("Thing", spec={"anything": [1, 2]})),
    ("owner as a full ref", spec(owner="user:default/jdoe")),
    ("owner in upper case", spec(owner="Group:Default/Team-A")),
    ("api", entity("API", spec__system="checkout")),
    ("resource", spec("Resource", dependsOn=["resource:db"], dependencyOf=["component:x"])),
    ("system", spec("System", domain="payments", type="product")),
    ("domain", spec("Domain", subdomainOf="finance", type="area")),
    ("group", spec("Group", parent="org", members=["jdoe"], profile={"email": "t@x"})),
    ("user with an empty memberOf", entity("User")),
    ("location", spec("Location", type="url", targets=["./a.yaml"], presence="optional")),
    ("location with an empty spec", entity("Location")),
]

INVALID: list[tuple[str, Any, set[tuple[str, str]]]] = [
    ("root is a list", ["a"], {("<root>", "type")}),
    ("root is null", None, {("<root>", "type")}),
    ("root status field", entity(status={"items": []}), {("status", "root-field")}),
    ("root relations field", entity(relations=[]), {("relations", "root-field")}),
    ("unknown root field", entity(extra=1), {("extra", "root-field")}),
    ("missing apiVersion", entity(apiVersion=DELETE), {("apiVersion", "required")}),
    ("null apiVersion", entity(apiVersion=None), {("apiVersion", "required")}),
    ("apiVersion as number", entity(apiVersion=1.0), {("apiVersion", "type")}),
    ("apiVersion with two slashes", entity("T", "a.io/b/v1"), {("apiVersion", "api-version-format")}),
    ("apiVersion prefix upper case", entity("T", "Acme.io/v1"), {("apiVersion", "api-version-format")}),
    ("apiVersion suffix with a dot", entity("T", "1.0"), {("apiVersion", "api-version-format")}),
    ("apiVersion suffix of 64", entity("T", "x.io/" + "v" * 64), {("apiVersion", "api-version-format")}),
    ("apiVersion prefix of 254", entity("T", PREFIX_254 + "/v1"), {("apiVersion", "api-version-format")}),
    ("missing kind", entity(kind=DELETE), {("kind", "required")}),
    ("kind 1Component", entity("1Component"), {("kind", "kind-format")}),
    ("kind with a hyphen", entity("My-Kind"), {("kind", "kind-format")}),
    ("kind of 64", entity("K" * 64), {("kind", "kind-format")}),
    ("kind in the wrong case", entity("component"), {("kind", "kind-case")}),
    ("missing metadata", entity(metadata=DELETE), {("metadata", "required")}),
    ("metadata is a list", entity(metadata=["name"]), {("metadata", "type")}),
    ("missing name", meta(name=DELETE), {("metadata.name", "required")}),
    ("name of 64", meta(name="a" * 64), {("metadata.name", "name-length")}),
    ("empty name", meta(name=""), {("metadata.name", "name-length")}),
    ("name -a", meta(name="-a"), {("metadata.name", "name-format")}),
    ("name a-", meta(name="a-"), {("metadata.name", "name-format")}),
    ("name -bad-", meta(name="-bad-"), {("metadata.name", "name-format")}),
    ("name with a space", meta(name="my service"), {("metadata.name", "name-format")}),
    ("name with a slash", meta(name="a/b"), {("metadata.name", "name-format")}),
    ("name as number", meta(name=123), {("metadata.name", "type")}),
    ("namespace Team_A", meta(namespace="Team_A"), {("metadata.namespace", "namespace-format")}),
    ("namespace -a", meta(namespace="-a"), {("metadata.namespace", "namespace-format")}),
    ("namespace a-", meta(namespace="a-"), {("metadata.namespace", "namespace-format")}),
    ("namespace of 64", meta(namespace="n" * 64), {("metadata.namespace", "namespace-format")}),
    ("empty namespace", meta(namespace=""), {("metadata.namespace", "namespace-format")}),
    ("null namespace", meta(namespace=None), {("metadata.namespace", "type")}),
    ("empty title", meta(title=""), {("metadata.title", "metadata-field")}),
    ("description as number", meta(description=3), {("metadata.description", "type")}),
    ("labels is a list", meta(labels=["a"]), {("metadata.labels", "type")}),
    ("label key upper-case prefix", meta(labels={"Acme.io/x": "y"}), {("metadata.labels[Acme.io/x]", "label-key-format")}),
    ("label key name of 64", meta(labels={"k" * 64: "y"}), {(f"metadata.labels[{'k' * 64}]", "label-key-format")}),
    ("label value of 64", meta(labels={"a": "v" * 64}), {("metadata.labels[a]", "label-value-format")}),
    ("label value with a space", meta(labels={"a": "b c"}), {("metadata.labels[a]", "label-value-format")}),
    ("label value as number", meta(labels={"a": 1}), {("metadata.labels[a]", "label-value-format")}),
    ("annotations is a string", meta(annotations="x"), {("metadata.annotations", "type")}),
    ("annotation value as number", meta(annotations={"foo": 8080}), {("metadata.annotations[foo]", "annotation-value-type")}),
    ("annotation value as bool", meta(annotations={"foo": True}), {("metadata.annotations[foo]", "annotation-value-type")}),
    ("annotation value null", meta(annotations={"foo": None}), {("metadata.annotations[foo]", "annotation-value-type")}),
    ("annotation key with a 254 prefix", meta(annotations={PREFIX_254 + "/x": "y"}), {(f"metadata.annotations[{PREFIX_254}/x]", "annotation-key-format")}),
    ("annotation key with two slashes", meta(annotations={"a/b/c": "y"}), {("metadata.annotations[a/b/c]", "annotation-key-format")}),
    ("tags is a string", meta(tags="java"), {("metadata.tags", "type")}),
    ("tag in upper case", meta(tags=["ok", "ok", "Java"]), {("metadata.tags[2]", "tag-format")}),
    ("tag of 64", meta(tags=["t" * 64]), {("metadata.tags[0]", "tag-length")}),
    ("empty tag", meta(tags=[""]), {("metadata.tags[0]", "tag-length")}),
    ("tag with a double hyphen", meta(tags=["a--b"]), {("metadata.tags[0]", "tag-format")}),
    ("tag with an underscore", meta(tags=["a_b"]), {("metadata.tags[0]", "tag-format")}),
    ("tag as number", meta(tags=[1]), {("metadata.tags[0]", "type")}),
    ("links is a mapping", meta(links={"url": "https://x"}), {("metadata.links", "type")}),
    ("link is a string", meta(links=["https://x"]), {("metadata.links[0]", "type")}),
    ("link without url", meta(links=[{"title": "Docs"}]), {("metadata.links[0].url", "link-url")}),
    ("link with a relative url", meta(links=[{"url": "/docs"}]), {("metadata.links[0].url", "link-url")}),
    ("link with a host-less url", meta(links=[{"url": "https://"}]), {("metadata.links[0].url", "link-url")}),
    ("link with a blank title", meta(links=[{"url": "https://x.io", "title": "  "}]), {("metadata.links[0].title", "link-field")}),
    ("link with a numeric icon", meta(links=[{"url": "https://x.io", "icon": 3}]), {("metadata.links[0].icon", "link-field")}),
    ("link with an empty type", meta(links=[{"url": "https://x.io", "type": ""}]), {("metadata.links[0].type", "link-field")}),
    ("component without spec", entity(spec=DELETE), {("spec", "required")}),
    ("component with a null spec", entity(spec=None), {("spec", "type")}),
    ("custom kind with a list spec", entity("Thing", "x.io/v1", spec=[1]), {("spec", "type")}),
    ("component missing spec.owner", spec(owner=DELETE), {("spec.owner", "required")}),
    ("component with an empty owner", spec(owner=""), {("spec.owner", "spec-field")}),
    ("component owner False (YAML 1.1 `no`)", spec(owner=False), {("spec.owner", "type")}),
    ("component missing type and lifecycle", spec(type=DELETE, lifecycle=DELETE), {("spec.type", "required"), ("spec.lifecycle", "required")}),
    ("owner with an empty name", spec(owner="group:"), {("spec.owner", "ref-format")}),
    ("owner with an empty kind", spec(owner=":team"), {("spec.owner", "ref-format")}),
    ("dependsOn without a kind", spec(dependsOn=["resource:ok", "db"]), {("spec.dependsOn[1]", "ref-format")}),
    ("dependencyOf without a kind", spec(dependencyOf="db"), {("spec.dependencyOf", "ref-format")}),
    ("providesApis is a string", spec(providesApis="x"), {("spec.providesApis", "type")}),
    ("providesApis with a number", spec(providesApis=["a", 1]), {("spec.providesApis[1]", "type")}),
    ("api without definition", spec("API", definition=DELETE), {("spec.definition", "required")}),
    ("resource without type", spec("Resource", type=DELETE), {("spec.type", "required")}),
    ("system without owner", spec("System", owner=DELETE), {("spec.owner", "required")}),
    ("domain without owner", spec("Domain", owner=DELETE), {("spec.owner", "required")}),
    ("group without children", spec("Group", children=DELETE), {("spec.children", "required")}),
    ("group children as a string", spec("Group", children="a"), {("spec.children", "type")}),
    ("group member ref with an empty namespace", spec("Group", members=["/x"]), {("spec.members[0]", "ref-format")}),
    ("user with no memberOf", spec("User", memberOf=DELETE), {("spec.memberOf", "required")}),
    ("user memberOf with an empty item", spec("User", memberOf=[""]), {("spec.memberOf[0]", "spec-field")}),
    ("user profile with an empty email", spec("User", profile={"email": ""}), {("spec.profile.email", "spec-field")}),
    ("user profile is a string", spec("User", profile="me"), {("spec.profile", "type")}),
    ("location presence maybe", spec("Location", presence="maybe"), {("spec.presence", "spec-field")}),
    ("location targets as a string", spec("Location", targets="./a"), {("spec.targets", "type")}),
    (
        "many problems at once",
        {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "status": {},
         "metadata": {"name": "-x-", "namespace": "A", "tags": ["UP"]}, "spec": {"owner": 1}},
        {("status", "root-field"), ("metadata.name", "name-format"),
         ("metadata.namespace", "namespace-format"), ("metadata.tags[0]", "tag-format"),
         ("spec.type", "required"), ("spec.lifecycle", "required"), ("spec.owner", "type")},
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_entity(case: Any) -> None:
    assert validate_entity(case) == []


@pytest.mark.parametrize(
    ("case", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_entity(case: Any, expected: set[tuple[str, str]]) -> None:
    violations = validate_entity(case)
    assert {(v.field, v.rule) for v in violations} == expected
    assert len(violations) == len(expected)
    assert all(v.message for v in violations)


ONLY_ANNOTATIONS_OR_LINKS = [
    (name, case)
    for name, case, expected in INVALID
    if all(field.startswith(("metadata.annotations", "metadata.links")) for field, _ in expected)
]


@pytest.mark.parametrize(
    "case",
    [c for _, c in ONLY_ANNOTATIONS_OR_LINKS]
    + [
        meta(
            annotations={"a/b/c": 1, "ok": "x", "n": None},
            links=[{"url": "/x", "title": " "}, {"url": "https://x.io"}, "y"],
        ),
        *(c for _, c in VALID if isinstance(c.get("metadata"), dict)),
    ],
)
def test_annotations_and_links_alone_give_what_the_whole_entity_gives(case: Any) -> None:
    """When nothing else in the entity breaks a rule (the assembler's revalidation)."""
    assert validate_annotations_and_links(case["metadata"]) == validate_entity(case)


def test_the_table_is_large_enough() -> None:
    assert len(VALID) + len(INVALID) >= 60


def test_violation_is_frozen() -> None:
    violation = Violation("metadata.name", "name-format", "bad")
    with pytest.raises(dataclasses.FrozenInstanceError):
        violation.rule = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("predicate", "good", "bad"),
    [
        (is_valid_name, ["a", "a" * 63, "A_b.c-D", "9"], ["", "a" * 64, "-a", "a-", "a b", 1, None]),
        (is_valid_namespace, ["default", "a--b", "n" * 63], ["", "Team_A", "-a", "a-", "a.b", "n" * 64]),
        (is_valid_kind, ["Component", "API", "K" * 63], ["", "1Component", "My-Kind", "K" * 64]),
        (is_valid_api_version, ["v1", "backstage.io/v1alpha1"], ["", "a/b/c", "Acme.io/v1", "/v1", "x.io/"]),
        (is_valid_label_key, ["a", "1", "app.kubernetes.io/name"], ["", "/a", "a/", "A.io/x", "a/b/c", 1, True, None, 1.0]),
        (is_valid_label_value, ["", "x", "v" * 63], ["v" * 64, "a b", "-a", 1, None]),
        (is_valid_tag, ["java", "c++", "c#", "a:b", "a-b"], ["", "Java", "a--b", "-a", "a_b", "t" * 64]),
        (is_valid_url, ["https://x.io", "http://[::1]:80/", "mailto:a@b"], ["", "x", "/p", "http://", "http://a b", "http://1.2.3.999", "http://a:99999", 1]),
    ],
    ids=lambda p: getattr(p, "__name__", ""),
)  # fmt: skip
def test_predicates(predicate: Any, good: list[Any], bad: list[Any]) -> None:
    assert [v for v in good if not predicate(v)] == []
    assert [v for v in bad if predicate(v)] == []


def test_file_level_rejections() -> None:
    """Backstage drops the whole file for these, and only for these."""
    whole_file = validate_entity(entity(kind=DELETE, metadata={"annotations": []}))
    assert [rejects_whole_file(v) for v in whole_file] == [True, True, True]
    one_entity = validate_entity(meta(name="-a", tags=["X"]))
    assert [rejects_whole_file(v) for v in one_entity] == [False, False]


JUNK: list[Any] = [None, 0, -1.5, True, "", "x", [], [None], {}, {"a": None}, {("t",): 1}, object()]


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_never_raises_on_junk(junk: Any) -> None:
    """Whatever a document holds, validation returns violations instead of raising."""
    paths = ["apiVersion", "kind", "metadata", "spec", "metadata__name", "metadata__namespace"]
    paths += [f"metadata__{k}" for k in ("labels", "annotations", "tags", "links", "title")]
    paths += [f"spec__{k}" for k in ("owner", "dependsOn", "dependencyOf", "profile")]
    for kind in (*SPECS, "Thing"):
        for path in paths:
            assert isinstance(validate_entity(entity(kind, **{path: junk})), list)
        assert isinstance(validate_entity(meta(labels={"k": junk}, annotations={"k": junk})), list)
        assert isinstance(validate_entity(meta(tags=[junk], links=[junk, {"url": junk}])), list)
    assert validate_entity(junk), "junk as a whole entity is never valid"
