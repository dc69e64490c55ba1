"""The github source against the loopback fake GitHub API, with a fake clock.

:class:`Harness` builds :class:`GithubSource` directly and drives it through a
:class:`ReadContext`, keeping "stored" snapshots the way the pipeline does: a
ScopeFailure keeps the previous snapshot, a new snapshot passes the removal
guard first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trueup.assemble.guard import guard_removals
from trueup.model.finding import Finding
from trueup.model.observation import ScopeFailure, ScopeRead, Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.github import GithubSource
from trueup.sources.github.config import GithubSourceConfig
from trueup.store.snapshots import materialised

from .fake_api import FakeClock, FakeGitHub, serve

TOKEN = "ghp_PLANTED0123456789abcdefSECRET"


def component(name: str, description: str = "A component") -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n  description: {description}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )


class Harness:
    """A source, its data folder, and the snapshots a pipeline would have stored."""

    def __init__(self, fake: FakeGitHub, clock: FakeClock, data_dir: Path, **config: Any) -> None:
        self.fake = fake
        self.clock = clock
        self.data_dir = data_dir
        self.settings: dict[str, Any] = {
            "id": "gh",
            "type": "github",
            "org": "acme",
            "token": TOKEN,
            "api_url": fake.base_url,
        } | config
        self.stored: dict[str, Snapshot] = {}
        self.held: dict[str, Finding] = {}
        self.source = self.build()

    def build(self) -> GithubSource:
        config = GithubSourceConfig.model_validate(self.settings)
        return GithubSource(config, data_dir=self.data_dir, sleep=self.clock.sleep)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def read(
        self, *, scopes: frozenset[str] | None = None, accept: bool = False
    ) -> dict[str, ScopeRead]:
        context = ReadContext(
            now=self.now, previous=dict(self.stored), data_dir=self.data_dir, scopes=scopes
        )
        # As the store holds it: a read that keeps the stored observations, with them.
        stored = {(self.source.id, scope): snap for scope, snap in self.stored.items()}
        reads = {r.scope: materialised(r, stored) for r in self.source.observe(context)}
        for scope, read in reads.items():
            if isinstance(read, ScopeFailure):
                continue
            outcome = guard_removals(self.stored.get(scope), read, max_ratio=0.5, accepted=accept)
            self.stored[scope] = outcome.snapshot
            if outcome.finding is not None:
                self.held[scope] = outcome.finding
            else:
                self.held.pop(scope, None)
        return reads

    def names(self, scope: str) -> set[str]:
        return {o.ref.name for o in self.stored[scope].observations}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def github(clock: FakeClock) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(clock, token=TOKEN)
    with serve(fake):
        yield fake


@pytest.fixture
def acme(github: FakeGitHub) -> FakeGitHub:
    """Three repositories with one catalog file each."""
    for name in ("billing", "payments", "search"):
        github.put_repo(f"acme/{name}", {"catalog-info.yaml": component(name), "README.md": "x"})
    return github


def failures(reads: dict[str, ScopeRead]) -> dict[str, ScopeFailure]:
    return {s: r for s, r in reads.items() if isinstance(r, ScopeFailure)}


def snapshots(reads: dict[str, ScopeRead]) -> dict[str, Snapshot]:
    return {s: r for s, r in reads.items() if isinstance(r, Snapshot)}
