"""A kubeconfig that points clients at N fake API servers: one cluster, user and context each.

Called by the demo's live clusters (:mod:`trueup.world.live`), the tests'
cluster fixtures and the benchmark. The file is JSON, which is YAML, so every
client (the official one, kubectl) reads it. A context's user is a bearer
token, or any user entry given as is (the tests' failing ``exec`` plugin); the
cluster's CA is a file path or inlined as ``certificate-authority-data``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

from trueup.testing.kube_api.selectors import Obj


@dataclass
class FakeContext:
    """One kubeconfig context: its name, server URL, token and CA (file or inline)."""

    name: str
    server: str
    token: str | None = None
    ca_file: Path | None = None
    ca_inline: bool = False
    user: Obj = field(default_factory=dict)


def write_fake_kubeconfig(path: Path, contexts: list[FakeContext]) -> Path:
    """A kubeconfig (JSON is YAML) with one cluster, user and context per entry."""
    clusters, users, entries = [], [], []
    for entry in contexts:
        cluster: Obj = {"server": entry.server}
        if entry.ca_file is not None and entry.ca_inline:
            cluster["certificate-authority-data"] = base64.b64encode(
                entry.ca_file.read_bytes()
            ).decode()
        elif entry.ca_file is not None:
            cluster["certificate-authority"] = str(entry.ca_file)
        user = dict(entry.user) or ({"token": entry.token} if entry.token else {})
        clusters.append({"name": f"{entry.name}-cluster", "cluster": cluster})
        users.append({"name": f"{entry.name}-user", "user": user})
        entries.append(
            {
                "name": entry.name,
                "context": {"cluster": f"{entry.name}-cluster", "user": f"{entry.name}-user"},
            }
        )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": contexts[0].name if contexts else "",
        "clusters": clusters,
        "users": users,
        "contexts": entries,
    }
    path.write_text(json.dumps(config, indent=1))
    path.chmod(0o600)  # it holds bearer tokens, as kubectl's own files do
    return path
