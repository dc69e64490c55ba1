"""Edges of loading ``trueup.yaml`` (SPEC section 2): what errors show, what is accepted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from trueup.config import load_config, parse_config
from trueup.config_check import check_config
from trueup.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # A duration's error quotes the value it could not read.
        ("sources:\n  - {id: c, type: file, path: x, interval: '${V}'}\n", "t.yaml:2: sources.0"),
        ("database_lock_timeout: ${V}\n", "t.yaml:1: database_lock_timeout: "),
        # So does an unknown type.
        ("sources:\n  - {id: c, type: '${V}'}\n", "t.yaml:2: sources.0.type: "),
    ],
)
def test_a_substituted_value_never_shows_in_a_configuration_error(text: str, where: str) -> None:
    # The value may be a secret set in the wrong variable or key: the error is printed
    # before the loaded configuration could teach the redaction layer what it holds.
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.yaml", {"V": "ghp_not_a_duration_at_all"})
    message = str(info.value)
    assert where in message and "ghp_not_a_duration_at_all" not in message
    assert "**********" in message


def test_a_custom_kind_listed_twice_is_refused() -> None:
    # Before: the policy kept the last entry, so the first one's apiVersions and
    # schema were dropped without a word.
    text = (
        "backstage:\n"
        "  kinds: [Component, Widget]\n"
        "  custom_kinds:\n"
        "    - {kind: Widget, api_versions: [acme.io/v1], schema: {type: object}}\n"
        "    - {kind: widget, api_versions: [acme.io/v2], schema: {type: object}}\n"
    )
    expected = r"t\.yaml:1: backstage: custom_kinds: 'widget' is listed twice"
    with pytest.raises(ConfigError, match=expected):
        parse_config(text, "t.yaml", {})


def test_config_check_finds_an_sqlite_file_that_is_a_folder(tmp_path: Path) -> None:
    # Before: "ok", and then every command failed with "unable to open database file".
    (tmp_path / "state").mkdir()
    (tmp_path / "catalog").mkdir()
    path = tmp_path / "trueup.yaml"
    path.write_text("database: sqlite:///state\nsources:\n  - {id: c, type: file, path: catalog}\n")
    problems = check_config(load_config(path, {}), "t.yaml")
    assert problems == [f"t.yaml: database: the SQLite file {tmp_path / 'state'} is a folder"]


def test_a_negative_database_lock_timeout_is_refused() -> None:
    # Before: accepted, and a locked database failed at once "after -5 s".
    expected = r"t\.yaml:1: database_lock_timeout: must not be negative"
    with pytest.raises(ConfigError, match=expected):
        parse_config("database_lock_timeout: -5\n", "t.yaml", {})
    config = parse_config("database_lock_timeout: 0s\n", "t.yaml", {})
    assert config.database_lock_timeout == timedelta(0)


def test_config_show_writes_durations_the_loader_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trueup.cli import main

    (tmp_path / "catalog").mkdir()
    (tmp_path / "trueup.yaml").write_text(
        "sources:\n  - {id: c, type: file, path: catalog, interval: 90s, max_age: 1.5h}\n"
        "server: {backoff: 45s, shutdown_timeout: 2m}\n"
    )
    capsys.readouterr()
    assert main(["config", "show", "-c", str(tmp_path / "trueup.yaml")]) == 0
    shown = capsys.readouterr().out
    assert "PT" not in shown
    (tmp_path / "shown.yaml").write_text(shown)
    again = load_config(tmp_path / "shown.yaml")
    source = again.sources[0]
    assert (source.interval, source.max_age) == (timedelta(seconds=90), timedelta(hours=1.5))
    assert (again.server.backoff, again.server.shutdown_timeout) == (
        timedelta(seconds=45),
        timedelta(minutes=2),
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sources:\n  - {id: c, type: file, path: x, interval: -5}\n", "negative"),
        ("sources:\n  - {id: c, type: file, path: x, interval: 0s}\n", "more than 0"),
        ("sources:\n  - {id: c, type: file, path: x, interval: 1e400}\n", "too long"),
        ("sources:\n  - {id: c, type: file, path: x, max_age: 99999999999d}\n", "too long"),
        ("server: {backoff: -1}\n", "negative"),
        ("server: {shutdown_timeout: -30}\n", "negative"),
    ],
)
def test_a_duration_out_of_range_is_a_configuration_error(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.yaml", {})
    assert says in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "server",
    [
        "server:\n  webhooks:\n    github: {secret: '${S}'}\n",
        "server:\n  webhooks:\n    github: {secret: real-secret-1, secrets: ['${S}']}\n",
        "server:\n  webhooks:\n    gitlab: {token: '${S}'}\n",
        "server:\n  tokens:\n    - {name: ci, role: read, token: '${S}'}\n",
    ],
)
def test_a_secret_of_only_white_space_is_no_secret(server: str) -> None:
    # An environment variable holding just a newline passed the start-up check that
    # refuses an empty secret; such a value is as easy to forge as none.
    with pytest.raises(ConfigError) as info:
        parse_config(server, "t.yaml", {"S": " \n"})
    assert "t.yaml" in str(info.value)
