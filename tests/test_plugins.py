"""The plugin registry: entry points in, usable plugins and disabled ones (with why) out."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from trueup.checks.base import CheckContext, CheckPlugin, Draft
from trueup.config_model import CheckConfig
from trueup.model.finding import Finding
from trueup.plugins import GROUPS, Kind, load_registry, registry
from trueup.sources.base import SourcePlugin
from trueup.sources.file.config import FileSourceConfig
from trueup.sources.file.plugin import create

MISNAMED = SourcePlugin(config=FileSourceConfig, create=create)
NOT_A_PLUGIN = {"config": FileSourceConfig}
A_CHECK = CheckPlugin(config=CheckConfig, create=lambda config: _Never())


class _Never:
    def check(self, draft: Draft, context: CheckContext) -> list[Finding]:
        return []


def point(name: str, value: str, kind: str = "source") -> EntryPoint:
    return EntryPoint(name, value, GROUPS[kind])  # type: ignore[index]


def test_every_built_in_is_registered_through_an_entry_point() -> None:
    found = {(e.kind, e.name): e for e in registry().entries}
    built_ins: list[tuple[Kind, str]] = [
        ("source", "file"),
        ("source", "git"),
        ("source", "github"),
        ("source", "kubernetes"),
        ("source", "terraform"),
        ("sink", "directory"),
        ("sink", "git"),
        ("check", "relations"),
        ("check", "completeness"),
        ("check", "drift"),
        ("check", "stale"),
    ]
    for kind, name in built_ins:
        entry = found[(kind, name)]
        assert entry.enabled and entry.distribution.startswith("trueup "), entry


def test_plugins_that_cannot_be_used_are_disabled_and_the_others_load() -> None:
    loaded = load_registry(
        [
            point("file", "tests.test_plugins:MISNAMED"),  # the installed built-in wins
            point("csv", "tests.test_plugins:MISNAMED"),
            point("odd", "tests.test_plugins:NOT_A_PLUGIN"),
            point("gone", "trueup_no_such_module:PLUGIN"),
            *(ep for ep in entry_points(group=GROUPS["source"]) if ep.name == "file"),
            point("severity", "tests.test_plugins:A_CHECK", "check"),
            point("never", "tests.test_plugins:A_CHECK", "check"),
        ]
    )

    assert list(loaded.sources) == ["file"] and list(loaded.checks) == ["never"]
    reasons = {(e.name, e.target): e.reason for e in loaded.entries if not e.enabled}
    assert reasons == {
        ("csv", "tests.test_plugins:MISNAMED"): (
            "its configuration model FileSourceConfig declares type 'file', not 'csv'"
        ),
        ("odd", "tests.test_plugins:NOT_A_PLUGIN"): "names a dict, not a SourcePlugin",
        ("gone", "trueup_no_such_module:PLUGIN"): (
            "cannot be loaded: ModuleNotFoundError: No module named 'trueup_no_such_module'"
        ),
        ("file", "tests.test_plugins:MISNAMED"): (
            "the name 'file' is already taken by trueup 0.1.0"
        ),
        ("severity", "tests.test_plugins:A_CHECK"): (
            "'severity' is a key of checks: itself, not a check name"
        ),
    }
    assert loaded.unknown_type("source", "gone") == (
        "the source type 'gone' is disabled: cannot be loaded: ModuleNotFoundError: "
        "No module named 'trueup_no_such_module'"
    )
    assert loaded.unknown_type("source", "svn") == (
        "unknown source type 'svn' (available: file; see `trueup plugins`)"
    )
