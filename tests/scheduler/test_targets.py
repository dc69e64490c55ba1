"""Which scopes a push names is found off the event loop.

Finding the scope that reads a repository builds each git-reading source and
asks it (:func:`trueup.refresh.repository_scope`): a ``github`` source reads and
parses its list of repositories from its data folder, a plugin source may do
more. The webhook receiver must not hold the server's event loop meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import sqlite_only
from tests.web.harness import LoopProbe
from trueup.config import Config, parse_config
from trueup.scheduler import targets
from trueup.store import Store
from trueup.web.serve import build_server
from trueup.web.signatures import sign_github
from trueup.web.webhooks import _names

SECRET = "webhook-secret-for-tests"


def configured(db_url: str, data: Path) -> Config:
    return parse_config(
        f"database: {db_url}\n"
        f"data_dir: {data}\n"
        "sources:\n"
        "  - {id: catalog, type: git, url: 'https://github.com/acme/catalog', branch: main}\n"
        "server:\n"
        "  webhooks:\n"
        f"    github: {{secret: {SECRET}}}\n"
        f"    gitlab: {{token: {SECRET}}}\n",
        "trueup.yaml",
        {},
    )


def github_push() -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "acme/catalog"}})
    return body.encode(), {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": sign_github(SECRET.encode(), body.encode()),
    }


def gitlab_push() -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"ref": "refs/heads/main", "project": {"path_with_namespace": "acme/catalog"}}
    )
    return body.encode(), {
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Token": SECRET,
        "Idempotency-Key": "d-1",
    }


PUSHES: dict[str, Callable[[], tuple[bytes, dict[str, str]]]] = {
    "github": github_push,
    "gitlab": gitlab_push,
}


@sqlite_only
@pytest.mark.parametrize("provider", sorted(PUSHES))
def test_the_event_loop_keeps_answering_while_a_push_s_scopes_are_found(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    probe = LoopProbe()

    def slow_scope(config: Config, source_id: str, repository: str) -> str:
        """A lookup that takes as long as the loop needs to notice it (at most probe.wait)."""
        probe.block()
        return "acme/catalog"

    monkeypatch.setattr(targets, "repository_scope", slow_scope)
    server = build_server(configured(db_url, tmp_path / "data"), store, worker_name="test")
    body, headers = PUSHES[provider]()

    response = probe.post(server.app, f"/webhooks/{provider}", body, headers)
    assert probe.waited == [True]
    assert response.status_code == 202
    assert [job["target"] for job in response.json()["jobs"]] == ["catalog/acme/catalog"]


GITHUB_URLS = ("clone_url", "html_url", "ssh_url")


def test_a_push_names_its_repository_by_url_host_included(tmp_path: Path) -> None:
    """``owner/name`` alone would match the source reading github.com/acme/catalog for a
    push to gitlab.example.com/acme/catalog: the payload's URLs are asked, the bare path
    only when it has none."""
    config = configured(f"sqlite:///{tmp_path / 'trueup.db'}", tmp_path / "data")
    elsewhere = {
        "full_name": "acme/catalog",
        "clone_url": "https://gitlab.example.com/acme/catalog",
    }
    label, names = _names(elsewhere, "full_name", GITHUB_URLS)
    assert (label, names) == ("acme/catalog", ["https://gitlab.example.com/acme/catalog"])
    assert targets.repository_targets(config, names, "main", None) == []

    here = {
        "full_name": "acme/catalog",
        "clone_url": "https://github.com/acme/catalog.git",
        "ssh_url": "git@github.com:acme/catalog.git",
    }
    found = targets.repository_targets(
        config, _names(here, "full_name", GITHUB_URLS)[1], "main", None
    )
    assert [source for source, _ in found] == ["catalog"]
    bare = _names({"full_name": "acme/catalog"}, "full_name", GITHUB_URLS)
    assert bare == ("acme/catalog", ["acme/catalog"])
    assert targets.repository_targets(config, bare[1], "main", None) == found
