"""Which clusters a live ``kubernetes`` source reads, and who each one is.

Called by the live reader and the watcher before any request. Each configured
kubeconfig context is one scope, named after the context. A context's
*identity* is its name plus its cluster's server URL and a fingerprint of its
CA: two contexts with the same server stay two scopes (their data is never
mixed), and a context whose server or CA changed since the last read is
noticed (see :func:`identity_changed`) — resourceVersions and carried-over
observations of another cluster are never reused.

The kubeconfig is read here (:func:`load_kubeconfig`: through
:mod:`trueup.path_policy`, a regular file of at most 4 MiB, parsed with the same
bounded, safe YAML as catalog files) to list contexts and identities, and to
hand one checked context (:func:`prepare_context`, the rules of
:mod:`~trueup.sources.kubernetes.credentials`) to the client library. A missing
or unreadable file, an unknown context or a context without a cluster is a
:class:`ContextProblem` for that scope only.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from trueup.errors import KubeAuthError
from trueup.parse.catalog_yaml import Document, load_documents
from trueup.path_policy import Refusal, read_file
from trueup.sources.kubernetes.credentials import PreparedContext, prepare

DEFAULT_KUBECONFIG = "~/.kube/config"
MAX_KUBECONFIG_BYTES = 4 * 1024 * 1024


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
        found = read_file((base / path).expanduser(), max_bytes=MAX_KUBECONFIG_BYTES)
        raw = path.encode() if isinstance(found, Refusal) else found
    return hashlib.sha256(raw).hexdigest()[:16] if raw else ""


def load_kubeconfig(path: str) -> Mapping[str, object]:
    """A kubeconfig file as data; raises KubeAuthError saying why it cannot be used."""
    data = read_file(Path(path), max_bytes=MAX_KUBECONFIG_BYTES)
    if isinstance(data, Refusal):
        raise KubeAuthError(f"kubeconfig {data.message}")
    documents = load_documents(data, max_file_bytes=MAX_KUBECONFIG_BYTES)
    if not documents:
        return {}
    first = documents[0]
    if not isinstance(first, Document):
        where = f" (line {first.line})" if first.line else ""
        raise KubeAuthError(f"kubeconfig {path}{where}: {first.message} [{first.rule}]")
    if len(documents) > 1:
        raise KubeAuthError(f"kubeconfig {path} holds more than one YAML document")
    loaded: Mapping[str, object] = first.value
    return loaded


def prepare_context(path: str, context: str, *, allow_exec: bool) -> PreparedContext:
    """One context of a kubeconfig, checked and ready for the client library."""
    document = load_kubeconfig(path)
    return prepare(document, context, base=Path(path).parent, allow_exec=allow_exec)


def context_problems(
    kubeconfig: str | None, wanted: Sequence[str], *, allow_exec: bool
) -> list[str]:
    """What ``trueup config check`` says of a live source's kubeconfig (nothing is run)."""
    path = kubeconfig_path(kubeconfig)
    try:
        document = load_kubeconfig(path)
    except KubeAuthError as exc:
        return [f"kubeconfig: {exc}"]
    contexts = document.get("contexts")
    known = [
        str(item.get("name"))
        for item in (contexts if isinstance(contexts, list) else [])
        if isinstance(item, Mapping)
    ]
    if not known:
        return [f"kubeconfig: {path} defines no context"]
    problems: list[str] = []
    for name in wanted or known:
        if name not in known:
            problems.append(f"contexts: {name!r} is not a context of {path}")
            continue
        try:
            prepare(document, name, base=Path(path).parent, allow_exec=allow_exec)
        except KubeAuthError as exc:
            problems.append(f"contexts: {exc}")
    return problems


def read_contexts(
    path: str, wanted: Sequence[str]
) -> tuple[list[ClusterIdentity | ContextProblem], list[str]]:
    """The identities of the wanted contexts (all when none is named), and every context name."""
    try:
        config = load_kubeconfig(path)
    except KubeAuthError as exc:
        return [ContextProblem(name, str(exc)) for name in (wanted or ["*"])], []
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
