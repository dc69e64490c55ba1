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
from collections.abc import Callable
from typing import Any

import pytest

from trueup.redaction import KNOWN_SECRETS, MASK, redact_text
from trueup.yaml_text import dump_document

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
    KNOWN_SECRETS.add("a/b")
    text = dump_document(_entity(description="the abc of it: a/b a%2fb a%2Fb"))
    assert redact_text(text) is text
