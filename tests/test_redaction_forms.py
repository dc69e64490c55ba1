"""A known secret is masked in every form trueup's own writers give it.

The feed and the sinks write YAML (:mod:`trueup.yaml_text`): multi-line text as a
literal block, each line indented, anything else a JSON string; the feed, the API
and ``--format json`` write JSON (``\\n`` and ``\\r\\n`` escapes); URLs carry
values percent-encoded, in either case of hex digits. A secret learnt as a PEM key
(Terraform's ``tls_private_key``) must be masked in all of them, whichever line
endings it was learnt or shown with.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run
from trueup.feed import FeedRow
from trueup.model.ref import EntityRef
from trueup.redaction import KNOWN_SECRETS, MASK, redact_text
from trueup.sinks.publish import masked
from trueup.yaml_text import dump_document

# The body lines are what must never show; the armour lines are no secret alone.
BODY = (
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7k3a9ZfQ2Yx0v",
    "Vb8pW1qL4r5N6s7T8u9V0w1X2y3Z4a5b6c7d8e9fA0B1C2D3E4F5G6H7I8J9K0L",
    "q/8R+tUvWxYz0123456789abcdefABCDEF==",
)
PEM = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(BODY) + "\n-----END PRIVATE KEY-----\n"
# AWS's documented example secret access key: ``/`` and ``+`` are percent-encoded.
AWS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+a"


def _entity(**fields: object) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "payments", **fields},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }


def _writers() -> dict[str, Callable[[Any], str]]:
    """Each writer trueup emits an entity with: feed YAML, feed JSON, API JSON, CLI JSON."""
    return {
        "yaml": dump_document,
        "feed json": json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode,
        "api json": lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")),
        "cli json": lambda v: json.dumps(v, indent=2),
    }


def _shows_secret(text: str) -> bool:
    return any(line in text for line in BODY)


@pytest.mark.parametrize("writer", list(_writers()))
@pytest.mark.parametrize(
    ("learnt", "shown"),
    [("\n", "\n"), ("\n", "\r\n"), ("\r\n", "\n"), ("\r\n", "\r\n")],
    ids=["lf-lf", "lf-crlf", "crlf-lf", "crlf-crlf"],
)
def test_a_pem_key_is_masked_in_every_writer_with_either_line_ending(
    writer: str, learnt: str, shown: str
) -> None:
    KNOWN_SECRETS.add(PEM.replace("\n", learnt))
    key = PEM.replace("\n", shown)
    text = _writers()[writer](
        _entity(
            description=f"Deploy key (rotate yearly):\n{key}kept in the vault",
            annotations={"example.com/deploy-key": key},
        )
    )
    assert _shows_secret(text)  # the writer wrote it
    out = redact_text(text)
    assert not _shows_secret(out), out
    # Still a document, with the text around the key kept.
    data = yaml.safe_load(out) if writer == "yaml" else json.loads(out)
    assert data["metadata"]["description"].startswith("Deploy key (rotate yearly):")
    assert data["metadata"]["description"].endswith("kept in the vault")
    assert MASK in data["metadata"]["annotations"]["example.com/deploy-key"]
    assert data["spec"]["owner"] == "team-a"


def test_a_published_feed_row_masks_a_pem_key_in_its_yaml_block() -> None:
    """The gate every publisher reads through (export, feed, sinks): YAML and JSON alike."""
    entity = _entity(annotations={"example.com/deploy-key": PEM})
    row = FeedRow(
        ref=EntityRef.of("Component", None, "payments"),
        content_hash="0" * 64,
        yaml=dump_document(entity),
        json=json.dumps(entity, ensure_ascii=False, separators=(",", ":")),
    )
    KNOWN_SECRETS.add(PEM)
    published = masked(row)
    assert not _shows_secret(published.yaml) and not _shows_secret(published.json)
    annotation = yaml.safe_load(published.yaml)["metadata"]["annotations"]
    assert annotation["example.com/deploy-key"].strip() == MASK
    assert published.content_hash != row.content_hash


@pytest.mark.parametrize("writer", list(_writers()))
def test_a_secret_learnt_with_a_final_line_break_is_masked_without_it(writer: str) -> None:
    """Terraform's ``file("token.txt")`` keeps the file's final newline; the token
    shown elsewhere (a catalog annotation) has none. Masked with its line break,
    a YAML line would swallow the next one."""
    KNOWN_SECRETS.add("glpat-Zx81kQ2mWv7PjR4tY9bN\n")
    shown = {"example.com/ci": "glpat-Zx81kQ2mWv7PjR4tY9bN", "example.com/team": "a"}
    out = redact_text(_writers()[writer](_entity(annotations=shown)))
    assert "glpat-" not in out
    if writer == "yaml":  # a whole scalar masked is an alias: the feed's gate writes it again
        assert f"    example.com/ci: {MASK}\n    example.com/team: a\n" in out
    else:
        annotations = json.loads(out)["metadata"]["annotations"]
        assert annotations == {"example.com/ci": MASK, "example.com/team": "a"}


@pytest.mark.parametrize("writer", list(_writers()))
@pytest.mark.parametrize("case", [str.upper, str.lower], ids=["upper hex", "lower hex"])
def test_a_percent_encoded_secret_is_masked_whatever_the_case_of_its_hex_digits(
    writer: str, case: Callable[[str], str]
) -> None:
    """``%2F`` and ``%2f`` are the same octet (RFC 3986 2.1); .NET's
    ``HttpUtility.UrlEncode`` writes the lower case, Python's ``quote`` the upper."""
    KNOWN_SECRETS.add(AWS_KEY)
    encoded = AWS_KEY.replace("/", case("%2F")).replace("+", case("%2B"))
    links = {
        "in a path": f"https://ci.example.com/hooks/{encoded}/run",
        "as a query value": f"https://ci.example.com/login?next=s3%3a%2f%2fb%2f{encoded}",
        "in userinfo": f"https://AKIAIOSFODNN7EXAMPLE:{encoded}@s3.example.com/bucket",
        "as a lone token": f"https://{encoded}@git.example.com/acme/catalog.git",
    }
    text = _writers()[writer](_entity(annotations=links))
    out = redact_text(text)
    assert encoded[:12] not in out and "EXAMPLEKEY" not in out, out
    assert "AKIAIOSFODNN7EXAMPLE" in out  # the key id is a user name, no secret


def test_short_words_stay_readable_in_every_form() -> None:
    """The minimum length holds for every form: a short value masks no word."""
    KNOWN_SECRETS.add("abc\n")  # four characters, three without its line break
    KNOWN_SECRETS.add("a\nb")
    KNOWN_SECRETS.add("a/b")
    text = dump_document(_entity(description="the abc of it:\na\n  b a/b a%2fb a%2Fb"))
    assert redact_text(text) is text


# --- the whole path: a Terraform key, a catalog that quotes it, every output ----------


def _state(pem: str) -> str:
    instance = {
        "schema_version": 1,
        "attributes": {"id": "deploy", "algorithm": "RSA", "private_key_pem": pem},
        "sensitive_attributes": [[{"type": "get_attr", "value": "private_key_pem"}]],
    }
    resource = {
        "mode": "managed",
        "type": "tls_private_key",
        "name": "deploy",
        "provider": 'provider["registry.terraform.io/hashicorp/tls"]',
        "instances": [instance],
    }
    return json.dumps(
        {
            "version": 4,
            "terraform_version": "1.6.0",
            "serial": 1,
            "lineage": "0b6e6c1a-5b1e-4d8a-9c1e-000000000001",
            "outputs": {},
            "resources": [resource],
        }
    )


COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  description: |
    Deploy key, to be rotated:
{key}
spec: {{type: service, lifecycle: production, owner: team-a}}
"""


@pytest.mark.parametrize("learnt", ["\n", "\r\n"], ids=["lf state", "crlf state"])
def test_a_terraform_key_quoted_in_a_catalog_reaches_no_output_or_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], learnt: str
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "prod.tfstate").write_text(_state(PEM.replace("\n", learnt)))
    (tmp_path / "catalog").mkdir()
    block = "\n".join("    " + line for line in PEM.splitlines())
    (tmp_path / "catalog" / "payments.yaml").write_text(COMPONENT.format(key=block))
    config = tmp_path / "trueup.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path / 'trueup.db'}\n"
        "sources:\n"
        "  - {id: tf, type: terraform, state: state/*.tfstate}\n"
        "  - {id: catalog, type: file, path: catalog}\n"
        "sinks:\n  - {type: directory, path: out}\n"
    )
    code, out, err = run(capsys, "sync", "-c", str(config))
    assert code in (0, 3), out + err
    shown = [out, err]
    for fmt in ("yaml", "json"):
        code, exported, err = run(capsys, "export", "-c", str(config), "--format", fmt)
        assert code == 0, err
        assert "Deploy key, to be rotated:" in exported
        shown += [exported, err]
    written = [path.read_text() for path in (tmp_path / "out").rglob("*.yaml")]
    assert written
    with sqlite3.connect(tmp_path / "trueup.db") as conn:
        stored = "\n".join(conn.iterdump())
    assert "Deploy key, to be rotated:" in stored
    for text in [*shown, *written, stored]:
        assert not _shows_secret(text), text


def test_a_secret_of_symbols_alone_is_masked_in_every_form() -> None:
    """No letter or digit to look for first: every text is searched for its forms."""
    KNOWN_SECRETS.add("!@#$%^&*()")
    for shown in ("!@#$%^&*()", "%21%40%23%24%25%5E%26%2A%28%29", "%21%40%23%24%25%5e%26%2a%28%29"):
        assert redact_text(f"a {shown} b") == f"a {MASK} b", shown
