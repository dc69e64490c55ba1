"""The ``s3://`` backend against an S3-compatible server on loopback (moto in server mode).

Credentials come from the environment (set by the ``aws_env`` fixture), as
they would in production; ``endpoint_url`` points at the loopback server.
"""

from __future__ import annotations

import socket

import pytest

from tests.sources.terraform.conftest import (
    LINEAGE,
    PLANTED,
    S3Server,
    config,
    fixture_bytes,
    fixture_state,
    read_all,
    state_text,
)
from trueup.model.observation import FailureKind, ScopeFailure, Snapshot
from trueup.sources.terraform import TerraformSource

BUCKET = "acme-tfstate"


def source(server: S3Server, state: str) -> TerraformSource:
    return TerraformSource(config(state, endpoint_url=server.endpoint, region="eu-west-1"))


def test_one_state_object_is_one_scope_named_by_its_url(s3_server: S3Server) -> None:
    s3_server.put(BUCKET, {"payments/terraform.tfstate": fixture_bytes("v4-aws.tfstate")})
    reads = read_all(source(s3_server, f"s3://{BUCKET}/payments/terraform.tfstate"))
    assert len(reads) == 1
    read = reads[0]
    assert isinstance(read, Snapshot), read
    assert read.scope == f"s3://{BUCKET}/payments/terraform.tfstate"
    assert read.version.startswith(f"{LINEAGE}/7#")
    names = {o.ref.name for o in read.observations}
    assert "payments.aws_db_instance.payments" in names  # label: the folder of terraform.tfstate
    assert all(PLANTED not in repr(o) for o in read.observations)


def test_a_prefix_glob_lists_the_bucket_and_reads_each_match(s3_server: S3Server) -> None:
    other = state_text(fixture_state() | {"lineage": "0c3d8a8e-2f9a-4b7e-a1c4-7d0e5f6a9b21"})
    s3_server.put(
        BUCKET,
        {
            "env/prod/payments.tfstate": fixture_bytes("v4-aws.tfstate"),
            "env/staging/payments.tfstate": other.encode(),
            "env/prod/payments.tfstate.backup": b"old",
            "env/prod/deep/x/ignored.txt": b"not a state",
        },
    )
    reads = read_all(source(s3_server, f"s3://{BUCKET}/env/*/payments.tfstate"))
    assert [r.scope for r in reads] == [
        f"s3://{BUCKET}/env/prod/payments.tfstate",
        f"s3://{BUCKET}/env/staging/payments.tfstate",
    ]
    assert all(isinstance(r, Snapshot) and len(r.observations) == 6 for r in reads)
    labels = {
        o.ref.name.split(".")[0] for r in reads if isinstance(r, Snapshot) for o in r.observations
    }
    assert labels == {"prod-payments", "staging-payments"}
    deep = read_all(source(s3_server, f"s3://{BUCKET}/env/**/*.tfstate"))
    assert len(deep) == 2


def test_a_missing_object_or_bucket_is_not_installed(s3_server: S3Server) -> None:
    s3_server.put(BUCKET, {})
    missing = read_all(source(s3_server, f"s3://{BUCKET}/nothing.tfstate"))[0]
    assert isinstance(missing, ScopeFailure)
    assert missing.kind is FailureKind.NOT_INSTALLED
    assert "NoSuchKey" in missing.message
    no_bucket = read_all(source(s3_server, "s3://no-such-bucket/x/*.tfstate"))[0]
    assert isinstance(no_bucket, ScopeFailure)
    assert (no_bucket.scope, no_bucket.kind) == ("infra", FailureKind.NOT_INSTALLED)
    assert "NoSuchBucket" in no_bucket.message


def test_a_corrupt_object_is_invalid_and_names_the_object(s3_server: S3Server) -> None:
    s3_server.put(BUCKET, {"payments.tfstate": fixture_bytes("truncated.tfstate")})
    read = read_all(source(s3_server, f"s3://{BUCKET}/payments.tfstate"))[0]
    assert isinstance(read, ScopeFailure)
    assert read.kind is FailureKind.INVALID
    assert read.message.startswith(f"s3://{BUCKET}/payments.tfstate: not valid JSON")
    assert "byte 1500" in read.message


def test_an_object_over_the_size_cap_is_refused(s3_server: S3Server) -> None:
    s3_server.put(BUCKET, {"payments.tfstate": fixture_bytes("v4-aws.tfstate")})
    capped = TerraformSource(
        config(
            f"s3://{BUCKET}/payments.tfstate", endpoint_url=s3_server.endpoint, max_state_size=100
        )
    )
    read = read_all(capped)[0]
    assert isinstance(read, ScopeFailure)
    assert "larger than max_state_size" in read.message


def test_without_credentials_the_read_is_forbidden(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_server.put(BUCKET, {"payments.tfstate": fixture_bytes("v4-aws.tfstate")})
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    read = read_all(source(s3_server, f"s3://{BUCKET}/payments.tfstate"))[0]
    assert isinstance(read, ScopeFailure)
    assert read.kind is FailureKind.FORBIDDEN
    assert "no usable AWS credentials" in read.message


def test_an_endpoint_nobody_listens_on_is_unreachable(aws_env: None) -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = TerraformSource(
        config(
            "s3://acme-tfstate/payments.tfstate",
            endpoint_url=f"http://127.0.0.1:{port}",
            timeout="2s",
        )
    )
    read = read_all(closed)[0]
    assert isinstance(read, ScopeFailure)
    assert read.kind is FailureKind.UNREACHABLE
    assert "EndpointConnectionError" in read.message
