"""The JSON documents the loopback API server answers with, as pure functions.

Called by :mod:`~trueup.testing.kube_api.handler` and
:mod:`~trueup.testing.kube_api.watch`: ``Status`` error bodies, the discovery
documents (``APIGroupList``, ``APIGroup``, ``APIResourceList``) with versions
in Kubernetes' priority order, a list body (built-in kinds' items carry no
``apiVersion``/``kind``, as a real server sends them), continue tokens that pin
a list to one resourceVersion, and the chunks of a watch stream.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable

from trueup.testing.kube_api.cluster_state import ObjKey, ResourceInfo
from trueup.testing.kube_api.selectors import Obj

BUILTIN_GROUPS = frozenset({"", "apps", "batch", "networking.k8s.io", "apiextensions.k8s.io"})
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    504: "Timeout",
}
_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def status_body(code: int, message: str, reason: str | None = None) -> Obj:
    """A ``Status`` failure, the body of every error answer."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
        "code": code,
    }


# --- discovery -------------------------------------------------------------------------


def version_priority(version: str) -> tuple[int, int]:
    """Sort key: GA before beta before alpha, higher numbers first (``v2`` > ``v1beta3``)."""
    match = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", version)
    if not match:
        return (9, 0)
    stage = {"": 0, "beta": 1, "alpha": 2}[match.group(2) or ""]
    return (stage, -int(match.group(1)) * 100 - int(match.group(3) or 0))


def _group_body(group: str, versions: Iterable[str]) -> Obj:
    ordered = sorted(versions, key=version_priority)
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def group_list(served: Iterable[ResourceInfo]) -> Obj:
    """``/apis``: every named group with its versions."""
    groups: dict[str, list[str]] = {}
    for info in served:
        if info.group:
            versions = groups.setdefault(info.group, [])
            if info.version not in versions:
                versions.append(info.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_body(g, vs) for g, vs in sorted(groups.items())],
    }


def group_document(group: str, served: Iterable[ResourceInfo]) -> Obj | None:
    """``/apis/GROUP``, or None when nothing of that group is served."""
    versions = {r.version for r in served if r.group == group}
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_body(group, versions)}


def resource_list(group: str, version: str, served: Iterable[ResourceInfo]) -> Obj:
    """``/api/v1`` or ``/apis/GROUP/VERSION``: each kind and its ``/status`` subresource."""
    resources: list[Obj] = []
    for info in sorted(served, key=lambda r: r.plural):
        resources.append(
            {
                "name": info.plural,
                "singularName": info.singular,
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": _VERBS,
                "shortNames": list(info.short_names),
                "categories": list(info.categories),
            }
        )
        resources.append(
            {
                "name": f"{info.plural}/status",
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    group_version = version if not group else f"{group}/{version}"
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


# --- lists -------------------------------------------------------------------------------


def continue_token(rv: int, last: ObjKey) -> str:
    """An opaque token that resumes a list after ``last``, at resourceVersion ``rv``."""
    state = {"rv": rv, "ns": last[0], "name": last[1]}
    return base64.b64encode(json.dumps(state).encode()).decode()


def read_continue_token(token: str) -> tuple[int, ObjKey]:
    """The resourceVersion and last key of a token; ValueError/KeyError when it is not one."""
    state = json.loads(base64.b64decode(token))
    return int(state["rv"]), (str(state["ns"]), str(state["name"]))


def list_body(info: ResourceInfo, items: list[Obj], metadata: Obj) -> Obj:
    """A ``<Kind>List`` as a real server sends it."""
    if info.group in BUILTIN_GROUPS:  # their list items carry no apiVersion/kind
        items = [{k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in items]
    return {
        "kind": f"{info.kind}List",
        "apiVersion": info.group_version,
        "metadata": metadata,
        "items": items,
    }


# --- watch streams -------------------------------------------------------------------------


def chunk(event: Obj) -> bytes:
    """One watch event as an HTTP/1.1 chunk (one JSON document and a newline)."""
    data = json.dumps(event).encode() + b"\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def expired_event(requested: int, oldest: int) -> Obj:
    """The ERROR event a watch gets when its resourceVersion was compacted away."""
    return {
        "type": "ERROR",
        "object": status_body(410, f"too old resource version: {requested} ({oldest})"),
    }


def too_large_event(requested: int, current: int) -> Obj:
    """The ERROR event a watch gets from a resourceVersion the store has not reached.

    What kube-apiserver's watch cache sends (``NewTooLargeResourceVersionError``)
    once its short wait for that version is over, e.g. after an etcd restore.
    """
    status = status_body(504, f"Too large resource version: {requested}, current: {current}")
    status["details"] = {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }
    return {"type": "ERROR", "object": status}
