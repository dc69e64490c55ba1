"""The demo world's Terraform state: what the payments team's infrastructure really is.

``write_demo_state`` writes one realistic state format v4 file,
``states/payments.tfstate``, as Terraform 1.9 would: an RDS PostgreSQL
instance (the catalog's ``payments-db``), a receipts S3 bucket made by a
module with ``for_each``, the settlements SQS queue, the ``random_password``
that the database's password comes from, a data source, and a plain and a
sensitive output. Each AWS resource is tagged with the component that uses it
(``backstage.io/kubernetes-id`` or ``backstage-entity``), so trueup links it
there (``dependencyOf``). The password appears where real states hold it — in
the database's and the random password's attributes (listed in
``sensitive_attributes``) and in a sensitive output — so the demo, and the
tests that grep every output for :data:`DEMO_SECRET`, show that it never
leaves trueup. Called by ``trueup demo`` (through the demo world) and tests.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trueup.world.demo_catalog import COMPONENTS

STATE_FILE = "states/payments.tfstate"
LINEAGE = "5b0c6f42-9a51-4f0e-8d07-2f1b3c9e7a10"
SERIAL = 42
DEMO_SECRET = "demo-only-Qx7!pW3z-not-a-real-password"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'
RANDOM = 'provider["registry.terraform.io/hashicorp/random"]'
PASSWORD_PATH = [[{"type": "get_attr", "value": "password"}]]
RESULT_PATH = [[{"type": "get_attr", "value": "result"}]]

# Which demo component each resource serves (all of them are declared in the catalog).
DATABASE_USER = "payments-api"
RECEIPTS_USER = "invoice-service"
QUEUE_USER = "payments-worker"


def write_demo_state(root: Path, *, now: datetime) -> Path:
    """Write the state under ``root/states/`` and return its path. Same ``now``, same bytes."""
    names = {c.name for c in COMPONENTS}
    assert {DATABASE_USER, RECEIPTS_USER, QUEUE_USER} <= names, "demo components renamed"
    moment = now.astimezone(UTC).replace(microsecond=0)
    path = root / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(demo_state(moment), indent=2) + "\n", encoding="utf-8")
    stamp = moment.timestamp()
    os.utime(path, (stamp, stamp))
    return path


def demo_state(now: datetime) -> dict[str, object]:
    """The state document itself."""
    endpoint = f"payments-db.c9akciq32.{REGION}.rds.amazonaws.com"
    return {
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": SERIAL,
        "lineage": LINEAGE,
        "outputs": {
            "db_endpoint": {"value": f"{endpoint}:5432", "type": "string"},
            "db_password": {"value": DEMO_SECRET, "type": "string", "sensitive": True},
        },
        "resources": [
            _caller_identity(),
            _database(endpoint, now),
            _password(),
            _queue(),
            _receipts(),
        ],
        "check_results": None,
    }


def _tags(**extra: str) -> tuple[dict[str, str], dict[str, str]]:
    """``tags`` as written, and ``tags_all`` with the provider's default tags."""
    defaults = {"managed-by": "terraform", "repository": "acme/payments-infra"}
    return extra, defaults | extra


def _caller_identity() -> dict[str, object]:
    return {
        "mode": "data",
        "type": "aws_caller_identity",
        "name": "current",
        "provider": AWS,
        "instances": [
            {
                "schema_version": 0,
                "attributes": {
                    "account_id": ACCOUNT,
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/terraform",
                    "id": ACCOUNT,
                    "user_id": "AROAEXAMPLEID:terraform",
                },
                "sensitive_attributes": [],
            }
        ],
    }


def _database(endpoint: str, now: datetime) -> dict[str, object]:
    tags, tags_all = _tags(**{"backstage.io/kubernetes-id": DATABASE_USER, "team": "payments"})
    restorable = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "mode": "managed",
        "type": "aws_db_instance",
        "name": "payments",
        "provider": AWS,
        "instances": [
            {
                "schema_version": 2,
                "attributes": {
                    "address": endpoint,
                    "allocated_storage": 200,
                    "arn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:payments-db",
                    "availability_zone": f"{REGION}b",
                    "db_name": "payments",
                    "endpoint": f"{endpoint}:5432",
                    "engine": "postgres",
                    "engine_version": "15.6",
                    "id": "db-P4YM3NTSQ2XJ7K",
                    "identifier": "payments-db",
                    "instance_class": "db.r6g.large",
                    "latest_restorable_time": restorable,
                    "manage_master_user_password": None,
                    "multi_az": True,
                    "password": DEMO_SECRET,
                    "port": 5432,
                    "storage_encrypted": True,
                    "tags": tags,
                    "tags_all": tags_all,
                    "username": "payments_app",
                    "vpc_security_group_ids": ["sg-0a1b2c3d4e5f60718"],
                },
                "sensitive_attributes": PASSWORD_PATH,
                "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjIifQ==",
                "dependencies": ["random_password.db"],
            }
        ],
    }


def _password() -> dict[str, object]:
    return {
        "mode": "managed",
        "type": "random_password",
        "name": "db",
        "provider": RANDOM,
        "instances": [
            {
                "schema_version": 3,
                "attributes": {
                    "bcrypt_hash": "$2a$10$demoOnlyNotARealBcryptHashValue0123456789abcdefghi",
                    "id": "none",
                    "length": 32,
                    "result": DEMO_SECRET,
                    "special": True,
                },
                "sensitive_attributes": [
                    [{"type": "get_attr", "value": "bcrypt_hash"}],
                    *RESULT_PATH,
                ],
            }
        ],
    }


def _queue() -> dict[str, object]:
    tags, tags_all = _tags(**{"backstage-entity": QUEUE_USER})
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/payments-settlements"
    return {
        "mode": "managed",
        "type": "aws_sqs_queue",
        "name": "settlements",
        "provider": AWS,
        "instances": [
            {
                "schema_version": 0,
                "attributes": {
                    "arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:payments-settlements",
                    "fifo_queue": False,
                    "id": url,
                    "message_retention_seconds": 345600,
                    "name": "payments-settlements",
                    "tags": tags,
                    "tags_all": tags_all,
                    "url": url,
                    "visibility_timeout_seconds": 60,
                },
                "sensitive_attributes": [],
            }
        ],
    }


def _receipts() -> dict[str, object]:
    instances: list[dict[str, object]] = []
    for region in ("eu-west-1", "us-east-1"):
        bucket = f"acme-payments-receipts-{region}"
        tags, tags_all = _tags(**{"backstage-entity": f"component:default/{RECEIPTS_USER}"})
        instances.append(
            {
                "index_key": region,
                "schema_version": 0,
                "attributes": {
                    "arn": f"arn:aws:s3:::{bucket}",
                    "bucket": bucket,
                    "bucket_domain_name": f"{bucket}.s3.amazonaws.com",
                    "force_destroy": False,
                    "id": bucket,
                    "region": region,
                    "tags": tags,
                    "tags_all": tags_all,
                },
                "sensitive_attributes": [],
            }
        )
    return {
        "module": "module.receipts",
        "mode": "managed",
        "type": "aws_s3_bucket",
        "name": "this",
        "each": "map",
        "provider": AWS,
        "instances": instances,
    }
