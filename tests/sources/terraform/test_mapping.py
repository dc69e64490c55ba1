"""Instances → Resource observations: names, fields, links and mapping rules (SPEC 4.3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sources.terraform.conftest import LINEAGE, NOW, config, fixture_bytes
from trueup.errors import ConfigError
from trueup.model.observation import Nature, Observation
from trueup.model.ref import EntityRef
from trueup.model.validation import is_valid_name
from trueup.sources.terraform.mapping import (
    Rules,
    StateRead,
    collect,
    derive_name,
    rules_from_config,
)
from trueup.sources.terraform.state import Instance, StateFile, parse_state

READ = StateRead(source="infra", scope="prod/payments", label="prod/payments", observed_at=NOW)
ANN = "metadata.annotations."


def aws_state() -> StateFile:
    state = parse_state(fixture_bytes("v4-aws.tfstate"))
    assert isinstance(state, StateFile)
    return state


def observed(rules: Rules | None = None, state: StateFile | None = None) -> dict[str, Observation]:
    observations, _ = collect(state or aws_state(), READ, rules or Rules())
    return {o.fields["metadata.title"]: o for o in observations}


def rules(**extra: Any) -> Rules:
    return rules_from_config(config("states/*.tfstate", **extra))


def test_each_managed_instance_is_a_resource_observation_with_provenance() -> None:
    found = observed(rules(owner="group:default/platform"))
    database = found["aws_db_instance.payments"]
    assert database.ref == EntityRef(
        "resource", "default", "prod-payments.aws_db_instance.payments"
    )
    assert database.nature is Nature.ACTUAL
    assert database.provenance.source == "infra"
    assert database.provenance.scope == "prod/payments"
    assert database.provenance.locator == f"state {LINEAGE}/7:aws_db_instance.payments"
    assert database.provenance.observed_at == NOW
    assert database.fields == {
        "spec.type": "database",
        "spec.owner": "group:default/platform",
        "spec.dependencyOf": ["component:default/payments-api"],
        "metadata.title": "aws_db_instance.payments",
        ANN + "trueup.io/terraform-address": "aws_db_instance.payments",
        ANN + "trueup.io/terraform-type": "aws_db_instance",
        ANN + "trueup.io/terraform-provider": "registry.terraform.io/hashicorp/aws",
        ANN + "trueup.io/terraform-state": "prod/payments",
        ANN + "trueup.io/terraform-arn": "arn:aws:rds:eu-west-1:123456789012:db:payments",
        ANN + "trueup.io/terraform-engine": "postgres",
        ANN + "trueup.io/terraform-engine-version": "15.6",
        ANN + "trueup.io/terraform-id": "db-ABCDEF123456",
        ANN + "trueup.io/terraform-identifier": "payments",
        ANN + "trueup.io/terraform-instance-class": "db.r6g.large",
    }
    assert database.status == {"terraform-status": "Ready"}
    assert database.links == (("trueup.io/terraform-address", "aws_db_instance.payments"),)
    assert set(found) == {
        "aws_db_instance.payments",
        "random_password.db",
        "aws_ssm_parameter.db_url",
        "module.queues.aws_sqs_queue.this[0]",
        "module.queues.aws_sqs_queue.this[1]",
        'module.buckets["eu"].aws_s3_bucket.receipts["invoices"]',
    }


def test_names_are_valid_backstage_names_derived_from_state_and_address() -> None:
    names = {title: o.ref.name for title, o in observed().items()}
    assert names == {
        "aws_db_instance.payments": "prod-payments.aws_db_instance.payments",
        "random_password.db": "prod-payments.random_password.db",
        "aws_ssm_parameter.db_url": "prod-payments.aws_ssm_parameter.db_url",
        "module.queues.aws_sqs_queue.this[0]": "prod-payments.queues.aws_sqs_queue.this.0",
        "module.queues.aws_sqs_queue.this[1]": "prod-payments.queues.aws_sqs_queue.this.1",
        'module.buckets["eu"].aws_s3_bucket.receipts["invoices"]': (
            "prod-payments.buckets.eu.aws_s3_bucket.receipts.invoices"
        ),
    }
    assert all(is_valid_name(name) for name in names.values())


def test_long_names_and_names_two_addresses_share_end_in_a_hash() -> None:
    long = derive_name("prod", 'module.a.module.b.aws_s3_bucket.this["' + "x" * 80 + '"]')
    assert len(long) <= 63 and is_valid_name(long)
    assert long.startswith("prod.a.b.aws_s3_bucket.this.xxx")
    assert derive_name("prod", "aws_s3_bucket.a") == "prod.aws_s3_bucket.a"
    assert is_valid_name(derive_name("!!", '_x["--"]'))

    def instance(address: str) -> Instance:
        return Instance(address, "", "aws_s3_bucket", "this", None, "p", tainted=False)

    clash = StateFile(
        "1.9.8", 1, LINEAGE, "d", (instance('a.this["x y"]'), instance('a.this["x-y"]'))
    )
    observations, _ = collect(clash, READ, Rules())
    names = [o.ref.name for o in observations]
    assert len(set(names)) == 2
    assert all(name.startswith("prod-payments.a.this.x-y-") for name in names)


def test_tags_labels_and_rules_link_to_components() -> None:
    found = observed(
        rules(
            mappings=[
                {"address": "module.buckets*", "component": "invoice-service"},
                {"type": "aws_sqs_*", "component": "component:default/ledger-service"},
            ]
        )
    )
    queue = found["module.queues.aws_sqs_queue.this[1]"]  # tag holds a full ref
    assert queue.fields["spec.dependencyOf"] == [
        "component:default/ledger-service",
        "component:default/payments-worker",
    ]
    assert queue.status == {"terraform-status": "Tainted"}
    bucket = found['module.buckets["eu"].aws_s3_bucket.receipts["invoices"]']
    assert bucket.fields["spec.dependencyOf"] == ["component:default/invoice-service"]
    assert "spec.dependencyOf" not in found["random_password.db"].fields


def test_rules_name_own_and_place_resources_first_match_wins_per_key() -> None:
    found = observed(
        rules(
            owner="team-platform",
            mappings=[
                {
                    "type": "aws_db_instance",
                    "name": "payments-db",
                    "tags": {"managed-by": "terra*"},
                },
                {"state": "prod/*", "system": "payments", "owner": "team-payments"},
                {"system": "ignored", "owner": "ignored"},
            ],
        )
    )
    database = found["aws_db_instance.payments"]
    assert database.ref == EntityRef("resource", "default", "payments-db")
    assert database.fields["spec.system"] == "payments"
    assert database.fields["spec.owner"] == "team-payments"
    assert found["random_password.db"].fields["spec.owner"] == "team-payments"
    unmatched = observed(
        rules(owner="team-platform", mappings=[{"state": "staging/*", "system": "x"}])
    )
    assert unmatched["random_password.db"].fields["spec.owner"] == "team-platform"
    assert "spec.system" not in unmatched["random_password.db"].fields


def test_a_tag_that_names_no_valid_entity_is_a_finding_not_a_link() -> None:
    state = aws_state()
    bad = Instance(
        "aws_s3_bucket.x",
        "",
        "aws_s3_bucket",
        "x",
        None,
        "p",
        tainted=False,
        tags={"backstage-entity": "Not a name!"},
    )
    observations, findings = collect(
        StateFile("1.9.8", 1, LINEAGE, "d", (*state.instances, bad)), READ, Rules()
    )
    assert [f.code for f in findings] == ["dangling-ref"]
    assert findings[0].evidence["ref"] == "resource:default/prod-payments.aws_s3_bucket.x"
    assert "Not a name!" in findings[0].message
    assert (
        "spec.dependencyOf" not in next(o for o in observations if o.ref.name.endswith(".x")).fields
    )


def test_resource_types_can_be_included_and_excluded() -> None:
    found = observed(rules(include_types=["aws_*"], exclude_types=["aws_ssm_*"]))
    assert set(found) == {
        "aws_db_instance.payments",
        "module.queues.aws_sqs_queue.this[0]",
        "module.queues.aws_sqs_queue.this[1]",
        'module.buckets["eu"].aws_s3_bucket.receipts["invoices"]',
    }


def test_address_globs_take_brackets_literally() -> None:
    found = observed(
        rules(mappings=[{"address": 'module.buckets["eu"].*["invoices"]', "system": "billing"}])
    )
    assert found['module.buckets["eu"].aws_s3_bucket.receipts["invoices"]'].fields[
        "spec.system"
    ] == ("billing")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"owner": "group:"}, "owner"),
        ({"mappings": [{"name": "Not valid!"}]}, "mappings[0].name"),
        ({"mappings": [{"component": "component:default/"}]}, "mappings[0].component"),
        ({"mappings": [{}, {"system": "a b"}]}, "mappings[1].system"),
    ],
)
def test_bad_rules_fail_fast_naming_the_key(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rules(**extra)
