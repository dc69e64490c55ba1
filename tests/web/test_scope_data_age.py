"""The Sources page and ``GET /api/v1/sources`` say how old a scope's data is, and when it
is stale, over real HTTP on SQLite and PostgreSQL.

Two cluster exports, read every sync: ``prod-eu`` written two days ago (past the
source's ``max_age`` of 24h, so every status from it shows as Unknown) and
``prod-us`` written now. Reading the old one again does not make its data new.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.harness import AUTH, READ, serving
from trueup.config import load_config
from trueup.pipeline import sync
from trueup.store import Store

TWO_DAYS = timedelta(days=2).total_seconds()


def _app(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "resourceVersion": "7"},
        "spec": {"destination": {"server": "https://kubernetes.default.svc", "namespace": "x"}},
        "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}},
    }


def _export(path: Path, name: str, written: datetime) -> None:
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [_app(name)]}))
    os.utime(path, (written.timestamp(), written.timestamp()))


@pytest.fixture
def base(tmp_path: Path, db_url: str, store: Store) -> Iterator[str]:
    exports = tmp_path / "exports"
    exports.mkdir()
    now = datetime.now(UTC)
    _export(exports / "prod-eu.json", "payments", now - timedelta(days=2))
    _export(exports / "prod-us.json", "orders", now)
    config_path = tmp_path / "trueup.yaml"
    config_path.write_text(
        f"""\
database: {db_url}
public_url: http://trueup.test
data_dir: {tmp_path / "data"}
sources:
  - id: clusters
    type: kubernetes
    snapshot: {exports}/*.json
    collect: [argocd]
    max_age: 24h
server:
  tokens:
    - {{name: backstage, role: read, token: {READ}}}
""",
        encoding="utf-8",
    )
    config = load_config(config_path)
    sync(config, store, trigger="test")
    sync(config, store, trigger="test")  # the exports are unchanged: kept, not parsed again
    with serving(config, store) as (url, _):
        yield url


def _scopes(base: str) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{base}/api/v1/sources", headers=AUTH)
    assert answer.status_code == 200
    [clusters] = answer.json()
    return {s["scope"]: s for s in clusters["scopes"]}


def test_the_api_says_a_scope_is_stale_with_the_age_of_its_data(base: str) -> None:
    scopes = _scopes(base)
    old, fresh = scopes["prod-eu"], scopes["prod-us"]
    assert (old["state"], old["stale"]) == ("stale", True)
    assert TWO_DAYS - 60 < old["data_age_seconds"] < TWO_DAYS + 600
    data_at = datetime.fromisoformat(old["data_at"])
    assert abs(datetime.now(UTC) - timedelta(days=2) - data_at) < timedelta(minutes=10)
    # age_seconds keeps its meaning: since the scope was last read (just now).
    assert old["age_seconds"] < 600
    assert datetime.fromisoformat(old["read_at"]) > data_at + timedelta(days=1)
    assert (fresh["state"], fresh["stale"]) == ("ok", False)
    assert fresh["data_age_seconds"] < 600


def test_the_sources_page_shows_a_stale_scope_and_how_old_its_data_is(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        signed_in = client.post("/ui/login", data={"token": READ}, follow_redirects=False)
        assert signed_in.status_code == 303
        page = client.get("/ui/sources")
    assert page.status_code == 200
    rows = {
        words.split()[0]: words
        for row in re.findall(r"<tr>(.*?)</tr>", page.text, re.S)
        if (words := " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split()))
    }
    old, fresh = rows["prod-eu"], rows["prod-us"]
    assert "stale" in old and " ok " not in f" {old} "
    assert "data from 2d ago" in old
    assert "stale" not in fresh and " ok " in f" {fresh} "
