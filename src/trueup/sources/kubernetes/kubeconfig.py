"""Which clusters a live ``kubernetes`` source reads, and who each one is.

Called by the live reader and the watcher before any request. Each configured
kubeconfig context is one scope, named after the context. A context's
*identity* is its name plus its cluster's server URL and a fingerprint of its
CA: two contexts with the same server stay two scopes (their data is never
mixed), and a context whose server or CA changed since the last read is
noticed (see :func:`identity_changed`) — resourceVersions and carried-over
observations of another cluster are never reused.

The kubeconfig is read here only to list contexts and identities; the client
library loads credentials itself (:func:`~trueup.sources.kubernetes.transport.client_for`).
A missing file, an unknown context or a context without a cluster is a
:class:`ContextProblem` for that scope only.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True, slots=True)
class ClusterIdentity:
    """Context name + server URL + CA fingerprint: what makes a scope one cluster."""

    context: str
    server: str
    ca: str  # sha256 of the CA bundle (first 16 hex digits), "" when none is configured

    def describe(self) -> str:
        """The form stored in a snapshot's version: ``server=URL ca=FP``."""
        return f"server={self.server} ca={self.ca or '-'}"


@dataclass(frozen=True, slots=True)
class ContextProblem:
    """A context that cannot be read at all (missing, no cluster, unreadable file)."""

    context: str
    message: str


def kubeconfig_path(configured: str | None) -> str:
    """The configured path, else ``$KUBECONFIG`` (its first entry), else ``~/.kube/config``."""
    if configured:
        return str(Path(configured).expanduser())
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return str(Path(first or DEFAULT_KUBECONFIG).expanduser())


def _named(items: object, name: str, key: str) -> Mapping[str, object] | None:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, Mapping) and item.get("name") == name:
            inner = item.get(key)
            return inner if isinstance(inner, Mapping) else None
    return None


def _ca_fingerprint(cluster: Mapping[str, object], base: Path) -> str:
    data = cluster.get("certificate-authority-data")
    raw: bytes = b""
    if isinstance(data, str) and data:
        try:
            raw = base64.b64decode(data)
        except ValueError:
            raw = data.encode()
    path = cluster.get("certificate-authority")
    if not raw and isinstance(path, str) and path:
        try:
            raw = (base / path).expanduser().read_bytes()
        except OSError:
            raw = path.encode()
    return hashlib.sha256(raw).hexdigest()[:16] if raw else ""


def read_contexts(
    path: str, wanted: Sequence[str]
) -> tuple[list[ClusterIdentity | ContextProblem], list[str]]:
    """The identities of the wanted contexts (all when none is named), and every context name."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        problem = f"kubeconfig {path} cannot be read: {exc}"
        return [ContextProblem(name, problem) for name in (wanted or ["*"])], []
    config: Mapping[str, object] = document if isinstance(document, Mapping) else {}
    contexts = config.get("contexts")
    names = [
        str(item["name"])
        for item in (contexts if isinstance(contexts, list) else [])
        if isinstance(item, Mapping) and isinstance(item.get("name"), str)
    ]
    out: list[ClusterIdentity | ContextProblem] = []
    for name in wanted or names:
        context = _named(contexts, name, "context")
        if context is None:
            out.append(ContextProblem(name, f"context {name!r} is not in kubeconfig {path}"))
            continue
        cluster_name = context.get("cluster")
        cluster = _named(config.get("clusters"), str(cluster_name), "cluster")
        server = cluster.get("server") if cluster is not None else None
        if cluster is None or not isinstance(server, str) or not server:
            out.append(
                ContextProblem(name, f"context {name!r}: cluster {cluster_name!r} has no server")
            )
            continue
        out.append(
            ClusterIdentity(name, server.rstrip("/"), _ca_fingerprint(cluster, Path(path).parent))
        )
    return out, names


def identity_changed(identity: ClusterIdentity, previous_version: str) -> str | None:
    """Why the previous snapshot of this scope came from another cluster, or None."""
    if not previous_version or "server=" not in previous_version:
        return None
    described = identity.describe()
    if described in previous_version:
        return None
    before = previous_version[previous_version.index("server=") :]
    return f"context {identity.context!r} now points at {described} (was {before})"
