"""Small CLI rules: a bad log level is a usage error; a cut value never shows a secret's start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trueup.cli import main
from trueup.cli.catalog import _short
from trueup.redaction import KNOWN_SECRETS, MASK


@pytest.fixture
def secret() -> Iterator[str]:
    value = "glpat-" + "Zq8vK2mN4xR7tY1wE5uI9oP3aS6dF0gH" * 3
    KNOWN_SECRETS.add(value)
    try:
        yield value
    finally:
        KNOWN_SECRETS.clear()


def test_a_value_cut_short_for_the_terminal_is_masked_before_it_is_cut(secret: str) -> None:
    shown = _short(f"https://git.example.com/?private_token={secret}")
    assert secret[:12] not in shown
    assert MASK in shown


def test_an_unknown_log_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--log-level", "bogus"]) == 1
    err = capsys.readouterr().err
    assert "bogus" in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["explain", "history"])
def test_the_ref_argument_s_help_shows_its_form(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    assert "[kind:][namespace/]name" in capsys.readouterr().out
