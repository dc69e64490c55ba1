"""What of an instance may be shown, and which values are secrets (SPEC 4.3, row 39)."""

from __future__ import annotations

from typing import Any

from trueup.sources.terraform.sensitive import (
    Secrets,
    collect_secrets,
    parse_sensitive_paths,
    safe_attributes,
    safe_tags,
    unflatten_legacy,
)

SECRET = "s3cr3t-value-xyz"


def get(name: str) -> dict[str, Any]:
    return {"type": "get_attr", "value": name}


def index(key: object, kind: str = "string") -> dict[str, Any]:
    return {"type": "index", "value": {"value": key, "type": kind}}


def state(attributes: dict[str, Any], paths: Any = (), **extra: Any) -> dict[str, Any]:
    instance = {"attributes": attributes, "sensitive_attributes": list(paths)} | extra
    return {"resources": [{"type": "aws_thing", "instances": [instance]}]}


def test_sensitive_paths_are_read_from_cty_steps() -> None:
    raw = [[get("password")], [get("tags"), index("token")], [get("list"), index(2, "number")]]
    assert parse_sensitive_paths(raw) == (("password",), ("tags", "token"), ("list", 2))
    assert parse_sensitive_paths(None) == ()
    assert parse_sensitive_paths("password") is None  # unreadable: everything is sensitive
    assert parse_sensitive_paths([[{"type": "splat"}]]) is None


def test_secrets_come_from_sensitive_paths_outputs_and_secret_names() -> None:
    document = state(
        {
            "password": "pw-from-path",
            "nested": {"db": {"master_password": "pw-by-name"}},
            "conn": [{"connection_string": "pw-in-list"}],
            "name": "visible-name",
            "manage_master_user_password": True,  # a boolean is never a secret
        },
        [[get("password")]],
    )
    document["outputs"] = {
        "plain": {"value": "not-secret", "type": "string"},
        "hidden": {"value": {"a": ["pw-in-output"]}, "sensitive": True},
        "odd": {"value": "pw-odd-flag", "sensitive": "yes"},
    }
    secrets = collect_secrets(document)
    assert secrets.values == {
        "pw-from-path",
        "pw-by-name",
        "pw-in-list",
        "pw-in-output",
        "pw-odd-flag",
    }
    assert "pw-from-path" not in repr(secrets)


def test_an_instance_with_unreadable_sensitive_paths_is_all_secret() -> None:
    document = state({"id": "i-123", "name": "web"})
    document["resources"][0]["instances"][0]["sensitive_attributes"] = {"bad": "shape"}
    assert collect_secrets(document).values == {"i-123", "web"}


def test_a_secret_resource_type_is_all_secret() -> None:
    document = {
        "resources": [
            {
                "type": "random_string",
                "instances": [{"attributes": {"id": "abc123", "result": "abc123"}}],
            }
        ]
    }
    assert collect_secrets(document).values == {"abc123"}
    assert safe_attributes("random_string", {"id": "abc123"}, (), Secrets()) == {}


def test_only_allow_listed_scalars_not_covered_and_not_holding_a_secret_are_shown() -> None:
    secrets = Secrets(frozenset({SECRET}))
    attributes = {
        "id": "i-123",
        "arn": f"arn:aws:x:::{SECRET}",  # holds a secret
        "name": "web",
        "region": "eu-west-1",
        "engine": {"nested": "no"},  # not a scalar
        "url": "https://user:pw@example.com/x",  # credentials in a URL
        "endpoint": "db.example.com:5432",
        "policy": '{"Statement": []}',  # not allow-listed
        "zone": None,
        "bucket": "x" * 2000,  # too long to be an annotation
    }
    shown = safe_attributes("aws_thing", attributes, (("name",),), secrets)
    assert shown == {"id": "i-123", "region": "eu-west-1", "endpoint": "db.example.com:5432"}
    assert safe_attributes("aws_thing", attributes, None, secrets) == {}
    assert safe_attributes("aws_thing", {"id": "x"}, ((),), secrets) == {}  # the whole object


def test_tags_skip_sensitive_keys_paths_and_values() -> None:
    secrets = Secrets(frozenset({SECRET}))
    attributes = {
        "tags": {"team": "payments", "api_token": "abc", "note": SECRET, "hidden": "h"},
        "tags_all": {"team": "payments-all", "managed-by": "terraform"},
        "labels": {"backstage-entity": "web", "count": 3},
    }
    tags = safe_tags(attributes, (("tags", "hidden"),), secrets)
    assert tags == {"team": "payments-all", "managed-by": "terraform", "backstage-entity": "web"}
    assert safe_tags(attributes, (("tags_all",), ("tags",)), secrets) == {"backstage-entity": "web"}


def test_redaction_replaces_every_secret_and_short_ones_only_whole() -> None:
    secrets = Secrets(frozenset({SECRET, "abc"}))
    assert secrets.redact(f"a {SECRET} b") == "a (redacted) b"
    assert secrets.redact("abcdef") == "abcdef"  # too short to hunt inside other text
    assert secrets.redact("abc") == "(redacted)"
    assert secrets.touches(f"x{SECRET}x")
    assert not secrets.touches("abcdef")


def test_legacy_flatmaps_give_top_level_scalars_and_tag_maps() -> None:
    flat = {"id": "1", "tags.%": "2", "tags.team": "a", "tags.backstage-entity": "web", "x.0": "n"}
    assert unflatten_legacy(flat) == {"id": "1", "tags": {"team": "a", "backstage-entity": "web"}}
