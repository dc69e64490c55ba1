"""Text from GitHub's JSON that no store takes fails one repository, never the whole source.

JSON's ``"\\ud800"`` escape that is not half of a pair decodes to a lone
surrogate, which UTF-8 cannot encode: a repository name or default branch
holding one failed every repository of the source (quoting it for a URL
raised), and stored it would have failed the whole commit. That repository's
scope fails instead (named with the surrogate shown ``\\ud800``), keeping what
was read of it; the others are read as usual.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.sources.github.conftest import Harness, component
from tests.sources.github.fake_api import FakeClock, FakeGitHub
from trueup.config import Config
from trueup.model.ref import EntityRef
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store


def _sync(h: Harness, store: Store) -> SyncOutcome:
    config = Config.model_validate({"sources": [h.settings]})
    return sync(config, store, now=h.now, sources=[h.source])


def _names(store: Store) -> list[str]:
    return sorted(e.ref.name for e in store.entities() if e.ref.kind == "component")


def _storable(outcome: SyncOutcome) -> None:
    for failure in outcome.failures:
        failure.scope.encode()
        failure.message.encode()


def test_a_repository_named_with_a_lone_surrogate_fails_its_scope_only(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path, store: Store
) -> None:
    github.put_repo("acme/good", {"catalog-info.yaml": component("good")})
    github.put_repo("acme/o\ud800dd", {"catalog-info.yaml": component("odd")})
    h = Harness(github, clock, tmp_path)
    outcome = _sync(h, store)
    assert outcome.summary is not None  # committed
    assert _names(store) == ["good"]
    (failure,) = outcome.failures
    assert failure.scope == "acme/o\\ud800dd"
    assert "acme/o\\ud800dd" in failure.message and "lone surrogate" in failure.message
    _storable(outcome)
    health = {s.scope: s for s in store.scopes()}
    assert health["acme/o\\ud800dd"].last_error is not None
    assert (
        "acme/o\ud800dd"
        not in json.loads((tmp_path / "repositories.json").read_text())["repositories"]
    )  # not remembered: read as a new repository once renamed


def test_a_default_branch_gaining_a_lone_surrogate_keeps_the_repository_as_read(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path, store: Store
) -> None:
    github.put_repo("acme/good", {"catalog-info.yaml": component("good")})
    odd = github.put_repo("acme/odd", {"catalog-info.yaml": component("odd")})
    h = Harness(github, clock, tmp_path)
    assert _sync(h, store).exit_code == 0
    assert _names(store) == ["good", "odd"]

    odd.branches["ma\ud800in"] = odd.branches["main"]
    odd.default_branch = "ma\ud800in"
    github.push("acme/good", {"catalog-info.yaml": component("good", "Changed")})
    outcome = _sync(h, store)
    assert outcome.summary is not None  # committed: the other repository is updated
    (failure,) = outcome.failures
    assert failure.scope == "acme/odd" and "ma\\ud800in" in failure.message
    _storable(outcome)
    assert _names(store) == ["good", "odd"]  # kept as last read, not removed
    good = store.entity(EntityRef.of("component", None, "good"))
    assert good is not None
    assert good.assembled.entity["metadata"]["description"] == "Changed"


def test_a_catalog_path_holding_a_lone_surrogate_is_a_finding_and_the_rest_is_read(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path, store: Store
) -> None:
    files = {"catalog-info.yaml": component("good"), "o\ud800dd/catalog-info.yaml": component("o")}
    github.put_repo("acme/shop", files)  # the tree lists the path as "o\ud800dd/..."
    h = Harness(github, clock, tmp_path, catalog_path="**/catalog-info.yaml")
    outcome = _sync(h, store)
    assert outcome.summary is not None and outcome.failures == []
    assert _names(store) == ["good"]
    (found,) = [f for f in store.findings() if f.evidence.get("rule") == "file-name"]
    assert found.code == "invalid-file"
    assert found.evidence["path"] == "o\\ud800dd/catalog-info.yaml"
    assert "acme/shop" in found.message
