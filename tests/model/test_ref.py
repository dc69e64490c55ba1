"""Entity references: ``[kind:][namespace/]name``, parsed and compared as Backstage does."""

from __future__ import annotations

import pytest

from trueup.errors import RefError
from trueup.model.ref import DEFAULT_NAMESPACE, EntityRef, parse_ref


@pytest.mark.parametrize(
    ("text", "default_kind", "expected"),
    [
        ("component:default/payments", None, ("component", "default", "payments")),
        ("component:payments", None, ("component", "default", "payments")),
        ("group:platform/team-a", None, ("group", "platform", "team-a")),
        ("team-a", "Group", ("group", "default", "team-a")),
        ("platform/team-a", "Group", ("group", "platform", "team-a")),
        ("user:jdoe", "Group", ("user", "default", "jdoe")),  # an explicit kind wins
        ("API:Payments-API", "Component", ("api", "default", "payments-api")),
    ],
)
def test_parse(text: str, default_kind: str | None, expected: tuple[str, str, str]) -> None:
    assert parse_ref(text, default_kind=default_kind) == EntityRef(*expected)


def test_default_namespace_is_used_when_none_is_written() -> None:
    assert parse_ref("team-a", default_kind="Group", default_namespace="Ops").namespace == "ops"
    assert parse_ref("x/team-a", default_kind="Group", default_namespace="ops").namespace == "x"
    assert DEFAULT_NAMESPACE == "default"


def test_refs_compare_case_insensitively() -> None:
    """stringifyEntityRef lowercases: these two are one entity (test plan row 27)."""
    upper = parse_ref("Component:default/MyService")
    lower = parse_ref("component:default/myservice")
    assert upper == lower
    assert hash(upper) == hash(lower)
    assert str(upper) == "component:default/myservice"
    assert len({upper, lower, parse_ref("myservice", default_kind="COMPONENT")}) == 1


def test_of_and_short() -> None:
    ref = EntityRef.of("Group", None, "Team-A")
    assert ref == EntityRef("group", "default", "team-a")
    assert ref.short() == "group:team-a"
    assert ref.short(default_kind="Group") == "team-a"
    assert EntityRef.of("Group", "Ops", "a").short(default_kind="group") == "ops/a"
    assert EntityRef.of("API", "ops", "a").short(default_kind="Group") == "api:ops/a"


def test_refs_sort_by_kind_namespace_name() -> None:
    refs = [parse_ref(t) for t in ("user:b", "group:z/a", "group:a/b", "group:a/a")]
    assert [str(r) for r in sorted(refs)] == [
        "group:a/a",
        "group:a/b",
        "group:z/a",
        "user:default/b",
    ]


@pytest.mark.parametrize(
    ("text", "default_kind", "says"),
    [
        ("", "Group", "empty"),
        ("team-a", None, "no kind"),
        ("platform/team-a", None, "no kind"),
        (":team-a", "Group", "empty kind"),
        ("group:", None, "empty name"),
        ("group:/a", None, "empty namespace"),
        ("group:ns/", None, "empty name"),
        (None, "Group", "must be a string"),
        (42, "Group", "must be a string"),
        (["group:a"], "Group", "must be a string"),
    ],
)
def test_invalid_refs_raise_ref_error(text: object, default_kind: str | None, says: str) -> None:
    with pytest.raises(RefError, match=says):
        parse_ref(text, default_kind=default_kind)


def test_ref_error_is_a_value_error() -> None:
    """Callers that only know ValueError still catch it."""
    with pytest.raises(ValueError):
        parse_ref("")


# Backstage 1.10.3 parseEntityRef splits at the first ':' and the first '/', and a
# '/' before the ':' means there is no kind; the rest is the name, whatever it holds.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("component:a:b", ("component", "default", "a:b")),
        ("group:ns/a/b", ("group", "ns", "a/b")),
        ("ns/a:b", ("group", "ns", "a:b")),
        ("a/b:c", ("group", "a", "b:c")),
    ],
)
def test_backstage_parity_for_odd_names(text: str, expected: tuple[str, str, str]) -> None:
    assert parse_ref(text, default_kind="Group") == EntityRef(*expected)
