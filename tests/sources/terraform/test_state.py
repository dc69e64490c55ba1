"""Parsing and validating state format v4 (test plan row 37), as a pure function."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.sources.terraform.conftest import (
    LINEAGE,
    PLANTED,
    PLANTED_TOKEN,
    fixture_bytes,
    fixture_state,
)
from trueup.sources.terraform.state import (
    Instance,
    StateError,
    StateFile,
    parse_provider,
    parse_state,
)


def parsed(data: bytes) -> StateFile:
    state = parse_state(data)
    assert isinstance(state, StateFile), state
    return state


def refused(data: bytes) -> str:
    state = parse_state(data)
    assert isinstance(state, StateError), state
    return state.message


def edited(change: Any) -> bytes:
    document = fixture_state()
    change(document)
    return json.dumps(document).encode()


def by_address(state: StateFile) -> dict[str, Instance]:
    return {i.address: i for i in state.instances}


def test_a_v4_state_gives_its_managed_current_instances_with_their_addresses() -> None:
    state = parsed(fixture_bytes("v4-aws.tfstate"))
    assert (state.terraform_version, state.serial, state.lineage) == ("1.9.8", 7, LINEAGE)
    assert list(by_address(state)) == [
        "aws_db_instance.payments",
        "random_password.db",
        "aws_ssm_parameter.db_url",
        "module.queues.aws_sqs_queue.this[0]",
        "module.queues.aws_sqs_queue.this[1]",
        'module.buckets["eu"].aws_s3_bucket.receipts["invoices"]',
    ]
    assert state.data_sources == 1  # data.aws_caller_identity.current: read, not managed
    assert state.deposed == 1  # the deposed bucket awaiting destruction
    bucket = by_address(state)['module.buckets["eu"].aws_s3_bucket.receipts["invoices"]']
    assert (bucket.module, bucket.type, bucket.name, bucket.index_key) == (
        'module.buckets["eu"]',
        "aws_s3_bucket",
        "receipts",
        "invoices",
    )
    assert bucket.provider == "registry.terraform.io/hashicorp/aws"
    assert bucket.attributes == {
        "arn": "arn:aws:s3:::acme-invoices-eu",
        "bucket": "acme-invoices-eu",
        "id": "acme-invoices-eu",
        "region": "eu-west-1",
    }
    queues = by_address(state)
    assert queues["module.queues.aws_sqs_queue.this[0]"].index_key == 0
    assert not queues["module.queues.aws_sqs_queue.this[0]"].tainted
    assert queues["module.queues.aws_sqs_queue.this[1]"].tainted


def test_only_allow_listed_non_sensitive_attributes_and_tags_are_kept() -> None:
    instances = by_address(parsed(fixture_bytes("v4-aws.tfstate")))
    database = instances["aws_db_instance.payments"]
    assert database.attributes == {
        "arn": "arn:aws:rds:eu-west-1:123456789012:db:payments",
        "engine": "postgres",
        "engine_version": "15.6",
        "id": "db-ABCDEF123456",
        "identifier": "payments",
        "instance_class": "db.r6g.large",
    }
    # tags_all wins over tags; the tag whose value is the password is withheld.
    assert database.tags == {
        "backstage.io/kubernetes-id": "payments-api",
        "managed-by": "terraform",
    }
    assert instances["random_password.db"].attributes == {}  # its id can be its result
    # The SSM parameter's url holds credentials: withheld, and so is its value.
    assert instances["aws_ssm_parameter.db_url"].attributes == {
        "arn": "arn:aws:ssm:eu-west-1:123456789012:parameter/payments/db-url",
        "id": "/payments/db-url",
        "name": "/payments/db-url",
    }


def test_the_parsed_state_holds_no_sensitive_value_at_all() -> None:
    state = parsed(fixture_bytes("v4-aws.tfstate"))
    text = repr(state)
    assert PLANTED not in text
    assert PLANTED_TOKEN not in text


def test_legacy_attributes_flat_from_upgraded_states_are_read() -> None:
    state = parsed(fixture_bytes("v4-legacy-flat.tfstate"))
    instances = by_address(state)
    assert list(instances) == ["null_resource.bar", "null_resource.foo[0]", "null_resource.foo[1]"]
    bar = instances["null_resource.bar"]
    assert bar.provider == "registry.terraform.io/-/null"  # legacy "provider.null"
    assert bar.attributes == {"id": "5388490630832483079"}
    assert bar.tags == {"backstage-entity": "ledger-service"}
    assert PLANTED not in repr(state)  # admin_password in the flatmap


def test_the_roundtrip_modules_fixture_reads_like_terraform() -> None:
    state = parsed(fixture_bytes("v4-modules.tfstate"))
    assert [i.address for i in state.instances] == [
        'module.modB.null_resource.bar["a"]',
        'module.modB.null_resource.bar["b"]',
        "module.modA.null_resource.resource",
    ]
    assert state.instances[0].provider == "registry.terraform.io/-/null"


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("v5.tfstate", "state format version 5 is not supported (only version 4)"),
        ("no-version.tfstate", 'the state does not have a "version" attribute'),
        ("v3.tfstate", "state format version 3 (written by Terraform before 0.12)"),
        ("weird-mode.tfstate", 'resource null_resource.bar has mode "weird"'),
        ("bad-index-key.tfstate", "invalid index key of type object"),
        ("truncated.tfstate", "it ends early at byte 1500 (truncated"),
        ("corrupt.tfstate", "Expecting ',' delimiter at byte 296 (line 10 column 49)"),
    ],
)
def test_unsupported_or_corrupt_states_are_refused_with_a_reason(fixture: str, reason: str) -> None:
    message = refused(fixture_bytes(fixture))
    assert reason in message
    assert PLANTED not in message


def test_the_byte_offset_counts_bytes_not_characters() -> None:
    text = '{"version": 4, "lineage": "äöü€", "serial": }'
    message = refused(text.encode())
    assert f"at byte {len(text[: text.index('}')].encode())}" in message


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(version=0), "version 0 is not valid"),
        (lambda d: d.update(version="4"), '"version" must be a whole number, not "4"'),
        (lambda d: d.update(version=True), '"version" must be a whole number'),
        (lambda d: d.pop("lineage"), 'the state has no "lineage"'),
        (lambda d: d.update(serial=-1), "serial must be a whole number >= 0"),
        (lambda d: d.update(serial=1.5), "serial must be a whole number >= 0"),
        (lambda d: d.update(terraform_version="one point nine"), "invalid Terraform version"),
        (lambda d: d.update(resources={}), '"resources" must be a list'),
        (lambda d: d["resources"][1].update(provider="aws"), "invalid provider address"),
        (lambda d: d["resources"][1].update(type="aws db"), "has an invalid type"),
        (lambda d: d["resources"][1].update(module="modules.x"), "invalid module address"),
        (lambda d: d["resources"][1].update(each="set"), 'has "each" "set"'),
        (lambda d: d["resources"][4]["instances"][0].update(index_key=True), "of type boolean"),
        (lambda d: d["resources"][4]["instances"][0].update(index_key=0.5), "of type number"),
        (lambda d: d["resources"][4]["instances"][0].update(index_key="a"), "each = list"),
        (lambda d: d["resources"][5]["instances"][0].update(index_key=3), "each = map"),
        (lambda d: d["resources"][1]["instances"][0].update(status="gone"), 'status "gone"'),
        (lambda d: d["resources"][5]["instances"][1].update(deposed="x"), "deposed key"),
        (
            lambda d: d["resources"][4]["instances"].append(d["resources"][4]["instances"][0]),
            "instance module.queues.aws_sqs_queue.this[0] appears more than once",
        ),
        (lambda d: d["resources"][1]["instances"][0].update(attributes=[]), '"attributes" must'),
    ],
)
def test_invalid_v4_states_are_refused_with_a_reason(change: Any, reason: str) -> None:
    assert reason in refused(edited(change))


def test_json_without_nan_or_an_object_is_not_a_state() -> None:
    assert "NaN is not a JSON number" in refused(b'{"version": 4, "serial": NaN}')
    assert "a JSON object expected, not array" in refused(b"[]")
    assert "not UTF-8 text (byte 1)" in refused(b"{\xff}")
    assert "ends early at byte 0" in refused(b"")
    assert "nested too deeply" in refused(b"[" * 100_000)


def test_a_whole_float_index_key_and_newer_keys_are_tolerated() -> None:
    def change(document: dict[str, Any]) -> None:
        instance = document["resources"][4]["instances"][0]
        instance.update(index_key=0.0, identity={"id": "x"}, identity_schema_version=0)
        document["check_results"] = [{"object_kind": "resource"}]

    state = parsed(edited(change))
    assert by_address(state)["module.queues.aws_sqs_queue.this[0]"].index_key == 0


def test_a_secret_in_a_bad_value_is_scrubbed_from_the_reason() -> None:
    message = refused(edited(lambda d: d["resources"][1].update(mode=PLANTED)))
    assert PLANTED not in message
    assert "(redacted)" in message
    message = refused(edited(lambda d: d["resources"][1].update(mode=PLANTED * 20)))
    assert "planted" not in message.lower()  # shortened only after scrubbing


def test_the_digest_follows_content_not_formatting() -> None:
    compact = parsed(json.dumps(fixture_state()).encode())
    pretty = parsed(json.dumps(fixture_state(), indent=4).encode())
    assert compact.digest == pretty.digest
    other = parsed(edited(lambda d: d["resources"][1]["instances"][0].update(private="eA==")))
    assert other.digest != compact.digest


@pytest.mark.parametrize(
    ("raw", "source"),
    [
        ('provider["registry.terraform.io/hashicorp/aws"]', "registry.terraform.io/hashicorp/aws"),
        (
            'provider["registry.terraform.io/hashicorp/aws"].west',
            "registry.terraform.io/hashicorp/aws",
        ),
        ('module.a["x"].provider["example.com/acme/thing"]', "example.com/acme/thing"),
        ('provider["hashicorp/aws"]', "registry.terraform.io/hashicorp/aws"),
        ("provider.aws", "registry.terraform.io/-/aws"),
        ("module.foo.provider.aws.east", "registry.terraform.io/-/aws"),
        ("aws", None),
        ('provider["a/b/c/d"]', None),
        (42, None),
    ],
)
def test_provider_addresses_parse_in_current_and_legacy_forms(
    raw: object, source: str | None
) -> None:
    assert parse_provider(raw) == source


def test_a_module_key_that_is_not_a_json_string_refuses_the_state() -> None:
    """A raw control character in a module key: the state is refused with a reason,
    never an exception out of the parser (which would fail the whole source)."""

    def change(document: dict[str, Any]) -> None:
        bucket = next(r for r in document["resources"] if r.get("module") == 'module.buckets["eu"]')
        bucket["module"] = 'module.buckets["e\x01u"]'

    message = refused(edited(change))
    assert "module.buckets" in message and "module key" in message
    assert "\x01" not in message  # shown escaped
