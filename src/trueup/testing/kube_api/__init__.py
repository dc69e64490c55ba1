"""A test double of the Kubernetes API server — someone else's API, not part of trueup.

It stands in for a kube-apiserver, which cannot run here, so that trueup's live
Kubernetes source is driven through its real client library over real HTTP —
by ``trueup demo --live`` (:mod:`trueup.world.live`), by the tests in
``tests/sources/kubernetes`` and ``tests/world``, and by ``bench/kube_bench.py``
(``python -m trueup.testing.kube_api --count 3`` serves clusters from another
process). Nothing in trueup's product code imports it (an import-linter
contract checks that). It keeps objects in memory, trusts whatever is written
to it, and binds ``127.0.0.1`` only (there is no way to ask for another address).

It follows ``shared/research/k8s-test-api-contract.md`` §3: discovery (``/api``,
``/apis``, group and group/version resource lists), CRDs as ordinary objects
that register their kinds, lists with ``limit``/``continue``/``resourceVersion``/
``labelSelector``/``fieldSelector`` served as one consistent snapshot, chunked
watch streams (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR, Go-style booleans,
selector transitions, ``timeoutSeconds``), ``Status`` error bodies, a bearer
token (401 otherwise) and optional TLS with the handshake done in the worker
thread. Scripted :class:`Fault` objects make failures happen on purpose.

Modules, one concept each: ``cluster_state`` (:class:`ClusterState`: the fake
cluster's versioned objects and resource types), ``selectors``, ``documents``
(the JSON answers), ``handler`` (HTTP routes), ``watch`` (watch streams),
``faults``, ``server`` (socket, threads, lifecycle), ``tls``,
``fake_kubeconfig`` (a kubeconfig pointing clients at the fakes), ``export``
(loading a ``kubectl get -o json`` export).
"""

from __future__ import annotations

from trueup.testing.kube_api.cluster_state import (
    BUILTIN_RESOURCES,
    CRD_KEY,
    ClusterState,
    ConflictError,
    Event,
    ExpiredError,
    ResKey,
    ResourceInfo,
)
from trueup.testing.kube_api.documents import status_body
from trueup.testing.kube_api.export import (
    argocd_application_kind,
    guess_plural,
    load_export,
    served_kinds,
    xrd_kind,
)
from trueup.testing.kube_api.fake_kubeconfig import FakeContext, write_fake_kubeconfig
from trueup.testing.kube_api.faults import Fault, Request
from trueup.testing.kube_api.selectors import (
    BadRequestError,
    Filter,
    Obj,
    parse_field_selector,
    parse_label_selector,
)
from trueup.testing.kube_api.server import LOOPBACK, FakeApiServer
from trueup.testing.kube_api.tls import self_signed

__all__ = [
    "BUILTIN_RESOURCES",
    "CRD_KEY",
    "LOOPBACK",
    "BadRequestError",
    "ClusterState",
    "ConflictError",
    "Event",
    "ExpiredError",
    "FakeApiServer",
    "FakeContext",
    "Fault",
    "Filter",
    "Obj",
    "Request",
    "ResKey",
    "ResourceInfo",
    "argocd_application_kind",
    "guess_plural",
    "load_export",
    "parse_field_selector",
    "parse_label_selector",
    "self_signed",
    "served_kinds",
    "status_body",
    "write_fake_kubeconfig",
    "xrd_kind",
]
