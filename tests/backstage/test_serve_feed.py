"""A real Backstage catalog reads a running ``trueup serve`` (issue 11, SPEC 6.1).

The catalog backend of the harness has one ``url`` location: the feed of a
``trueup serve`` on loopback, its read token in the query (Backstage's URL
reader sends no credentials). Every demo entity is ingested and stitched with
no processing error; then a component is added in the catalog's git
repository, announced by a signed GitHub push, and after a refresh of its
location the catalog holds it too.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import SecretStr

from tests.backstage.harness import RunningCatalog
from tests.web.harness import GITHUB_SECRET, READ, serving
from trueup.cli import main
from trueup.config import load_config
from trueup.model.ref import EntityRef
from trueup.server_config import TokenConfig, WebhookSecretConfig
from trueup.store import Store
from trueup.web.signatures import sign_github
from trueup.world import write_demo_world

NEWCOMER = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: newcomer
  description: Added while Backstage was watching
spec:
  type: service
  lifecycle: experimental
  owner: team-payments
  system: payments
"""


def _push(base: str, repository: Path) -> None:
    body = json.dumps(
        {"ref": "refs/heads/main", "repository": {"clone_url": str(repository)}}
    ).encode()
    answer = httpx.post(
        f"{base}/webhooks/github",
        content=body,
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "backstage-1",
            "X-Hub-Signature-256": sign_github(GITHUB_SECRET.encode(), body),
        },
    )
    assert answer.status_code == 202, answer.text


def _ref(document: dict[str, Any]) -> str:
    metadata = document["metadata"]
    namespace = metadata.get("namespace", "default")
    return f"{document['kind']}:{namespace}/{metadata['name']}".lower()


def test_a_real_catalog_reads_the_served_feed_and_follows_a_change(tmp_path: Path) -> None:
    demo = write_demo_world(tmp_path / "demo", now=datetime.now(UTC))
    assert main(["sync", "-c", str(demo.config)]) == 0
    config = load_config(demo.config)
    server = config.server.model_copy(
        update={
            "tokens": [TokenConfig(name="backstage", role="read", token=SecretStr(READ))],
            "webhooks": {"github": WebhookSecretConfig(secret=SecretStr(GITHUB_SECRET))},
        }
    )
    config = config.model_copy(update={"server": server})
    with Store.open(config.database) as store, serving(config, store) as (base, _):
        feed = f"{base}/backstage/entities.yaml?token={READ}"
        served = [d for d in yaml.safe_load_all(httpx.get(feed).text) if d]
        refs = {_ref(d) for d in served}
        with RunningCatalog(feed, location_type="url") as catalog:
            assert catalog.ready is not None
            assert catalog.ready.problems() == []
            assert catalog.ready.ingested == refs
            assert catalog.ready.stitched == len(served) + 1  # the location's own entity

            (demo.catalog / "newcomer").mkdir()
            (demo.catalog / "newcomer" / "catalog-info.yaml").write_text(NEWCOMER)
            subprocess.run(["git", "add", "-A"], cwd=demo.catalog, check=True)
            subprocess.run(
                [
                    "git",
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@example.com",
                    "commit",
                    "-q",
                    "-m",
                    "newcomer",
                ],
                cwd=demo.catalog,
                check=True,
            )
            _push(base, demo.catalog)
            deadline = time.monotonic() + 60
            while store.entity(EntityRef("component", "default", "newcomer")) is None:
                assert time.monotonic() < deadline, "the push never reached the store"
                time.sleep(0.1)
            changed = catalog.refresh()
            assert changed.problems() == []
            assert changed.ingested == refs | {"component:default/newcomer"}
