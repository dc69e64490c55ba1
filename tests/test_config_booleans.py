"""Boolean settings read as YAML 1.2 reads them: only ``true`` and ``false`` (SPEC 2, 10).

``yes``, ``on`` and ``"true"`` are text in YAML 1.2, as ``owner: no`` stays
``"no"`` in a catalog file; a setting that took them for booleans would let a
typo or a quoted value switch a feature on or off unnoticed. A value given
wholly by one ``${VAR}`` is text too, but an environment variable has no other
way to give a boolean: there ``true`` and ``false`` are read as YAML would.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ValidationError

from trueup.config import Config, parse_config
from trueup.errors import ConfigError
from trueup.plugins import registry
from trueup.sinks.git.config import GitSinkConfig


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    """``model`` and every model its fields hold (in lists, dicts, unions), once each."""
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        pending: list[object] = [field.annotation]
        while pending:
            annotation = pending.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from _models(annotation, seen)
            pending.extend(typing.get_args(annotation))


def _boolean_fields() -> list[tuple[type[BaseModel], str]]:
    seen: set[type[BaseModel]] = set()
    roots: list[type[BaseModel]] = [Config]
    plugins = registry()
    for group in (plugins.sources, plugins.sinks, plugins.checks):
        roots.extend(plugin.config for plugin in group.values())
    found = []
    for root in roots:
        for model in _models(root, seen):
            for name, field in model.model_fields.items():
                kind = field.annotation
                optional = typing.get_origin(kind) in (typing.Union, types.UnionType)
                if kind is bool or (
                    optional and set(typing.get_args(kind)) == {bool, types.NoneType}
                ):
                    found.append((model, name))
    return found


BOOLEAN_FIELDS = _boolean_fields()


def test_the_configuration_has_boolean_settings_to_check() -> None:
    names = {f"{model.__name__}.{name}" for model, name in BOOLEAN_FIELDS}
    assert {
        "ServerConfig.public_feed",
        "GithubSourceConfig.include_archived",
        "KubernetesSourceConfig.allow_exec",
        "GitSinkConfig.push",
    } <= names


def _field_errors(model: type[BaseModel], name: str, value: object) -> list[str]:
    """The messages for ``name`` when ``model`` validates it (other keys may be missing)."""
    alias = model.model_fields[name].alias or name
    try:
        model.model_validate({alias: value})
    except ValidationError as exc:
        return [e["msg"] for e in exc.errors() if e["loc"] == (alias,)]
    return []


@pytest.mark.parametrize(
    ("model", "name"), BOOLEAN_FIELDS, ids=[f"{m.__name__}.{n}" for m, n in BOOLEAN_FIELDS]
)
@pytest.mark.parametrize("value", ["yes", "no", "on", "off", "true", "false", "True", 1, 0])
def test_every_boolean_setting_refuses_what_yaml_1_2_reads_as_no_boolean(
    model: type[BaseModel], name: str, value: object
) -> None:
    errors = _field_errors(model, name, value)
    assert len(errors) == 1 and "must be true or false" in errors[0]
    assert _field_errors(model, name, True) == [] and _field_errors(model, name, False) == []


SERVER = "database: sqlite://\nserver:\n  public_feed: {value}\n"
GITHUB = "sources:\n  - id: gh\n    type: github\n    org: acme\n    include_archived: {value}\n"
KUBERNETES = "sources:\n  - {{id: hub, type: kubernetes, snapshot: x/*, allow_exec: {value}}}\n"
MIRROR = "sinks:\n  - type: git\n    url: /tmp/mirror\n    push: {value}\n"


@pytest.mark.parametrize(
    ("template", "key", "line"),
    [
        (SERVER, "server.public_feed", 3),
        (GITHUB, "sources.0.include_archived", 5),
        (KUBERNETES, "sources.0.allow_exec", 2),
        (MIRROR, "sinks.0.push", 4),
    ],
    ids=["server", "github", "kubernetes", "git-sink"],
)
@pytest.mark.parametrize("value", ["yes", "off", '"true"', "'false'", "1"])
def test_a_boolean_written_otherwise_is_refused_naming_file_line_key_and_rule(
    template: str, key: str, line: int, value: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(template.format(value=value), "trueup.yaml", {})
    message = str(refused.value)
    assert message.startswith(f"trueup.yaml:{line}: {key}: must be true or false")
    assert "YAML 1.2" in message and message.count("\n") == 0


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False)])
def test_a_yaml_boolean_is_read(value: str, expected: bool) -> None:
    config = parse_config(SERVER.format(value=value), "trueup.yaml", {})
    assert config.server.public_feed is expected
    mirror = parse_config(MIRROR.format(value=value), "trueup.yaml", {}).sinks[0]
    assert isinstance(mirror, GitSinkConfig) and mirror.push is expected


@pytest.mark.parametrize(
    ("variable", "expected"), [("true", True), ("false", False), ("TRUE", True), ("False", False)]
)
def test_an_environment_variable_gives_a_boolean_as_yaml_would_read_it(
    variable: str, expected: bool
) -> None:
    text = SERVER.format(value="${PUBLIC_FEED}")
    config = parse_config(text, "trueup.yaml", {"PUBLIC_FEED": variable})
    assert config.server.public_feed is expected
    quoted = SERVER.format(value='"${PUBLIC_FEED}"')  # quotes change nothing: it is the value
    assert parse_config(quoted, "trueup.yaml", {"PUBLIC_FEED": variable}).server.public_feed is (
        expected
    )


@pytest.mark.parametrize("variable", ["yes", "1", "", "enabled", "on"])
def test_an_environment_variable_that_spells_no_boolean_is_refused(variable: str) -> None:
    text = SERVER.format(value="${PUBLIC_FEED}")
    with pytest.raises(ConfigError) as refused:
        parse_config(text, "trueup.yaml", {"PUBLIC_FEED": variable})
    message = str(refused.value)
    assert message.startswith("trueup.yaml:3: server.public_feed: must be true or false")
    assert "environment variable" in message and "enabled" not in message


@pytest.mark.parametrize("value", ["t${REST}", "${START}${REST}", "${START}ue"])
def test_a_value_only_partly_from_one_environment_variable_is_text(value: str) -> None:
    text = SERVER.format(value=value)
    with pytest.raises(ConfigError, match=r"server\.public_feed: must be true or false, unquoted"):
        parse_config(text, "trueup.yaml", {"START": "tr", "REST": "rue"})


def test_an_environment_value_stays_plain_text_in_a_text_setting() -> None:
    text = "sinks:\n  - type: git\n    url: /tmp/mirror\n    branch: ${BRANCH}\n"
    sink = parse_config(text, "trueup.yaml", {"BRANCH": "true"}).sinks[0]
    assert isinstance(sink, GitSinkConfig) and type(sink.branch) is str and sink.branch == "true"
