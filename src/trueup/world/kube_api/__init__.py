"""A loopback Kubernetes API server speaking the real protocol, for the demo, tests and benchmarks.

Not a production component: it keeps objects in memory, trusts whatever is
written to it, and binds ``127.0.0.1`` only (there is no way to ask for another
address). It exists so that trueup's live Kubernetes source is driven through
its real client library over real HTTP — by ``trueup demo --live``
(:mod:`trueup.world.live`), by the tests in ``tests/sources/kubernetes`` and
``tests/world``, and by ``bench/kube_bench.py`` (``python -m
trueup.world.kube_api --count 3`` serves clusters from another process).

It follows ``shared/research/k8s-test-api-contract.md`` §3: discovery (``/api``,
``/apis``, group and group/version resource lists), CRDs as ordinary objects
that register their kinds, lists with ``limit``/``continue``/``resourceVersion``/
``labelSelector``/``fieldSelector`` served as one consistent snapshot, chunked
watch streams (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR, Go-style booleans,
selector transitions, ``timeoutSeconds``), ``Status`` error bodies, a bearer
token (401 otherwise) and optional TLS with the handshake done in the worker
thread. Scripted :class:`Fault` objects make failures happen on purpose.

Modules, one concept each: ``store`` (versioned objects, resource types),
``selectors``, ``documents`` (the JSON answers), ``handler`` (HTTP routes),
``watch`` (watch streams), ``faults``, ``server`` (socket, threads, lifecycle),
``tls``, ``kubeconfig``, ``export`` (loading a ``kubectl get -o json`` export).
"""

from __future__ import annotations

from trueup.world.kube_api.documents import status_body
from trueup.world.kube_api.export import (
    argocd_application_kind,
    guess_plural,
    load_export,
    served_kinds,
    xrd_kind,
)
from trueup.world.kube_api.faults import Fault, Request
from trueup.world.kube_api.kubeconfig import ContextEntry, write_kubeconfig
from trueup.world.kube_api.selectors import (
    BadRequestError,
    Filter,
    Obj,
    parse_field_selector,
    parse_label_selector,
)
from trueup.world.kube_api.server import LOOPBACK, FakeApiServer
from trueup.world.kube_api.store import (
    BUILTIN_RESOURCES,
    CRD_KEY,
    ConflictError,
    Event,
    ExpiredError,
    ResKey,
    ResourceInfo,
    Store,
)
from trueup.world.kube_api.tls import self_signed

__all__ = [
    "BUILTIN_RESOURCES",
    "CRD_KEY",
    "LOOPBACK",
    "BadRequestError",
    "ConflictError",
    "ContextEntry",
    "Event",
    "ExpiredError",
    "FakeApiServer",
    "Fault",
    "Filter",
    "Obj",
    "Request",
    "ResKey",
    "ResourceInfo",
    "Store",
    "argocd_application_kind",
    "guess_plural",
    "load_export",
    "parse_field_selector",
    "parse_label_selector",
    "self_signed",
    "served_kinds",
    "status_body",
    "write_kubeconfig",
    "xrd_kind",
]
