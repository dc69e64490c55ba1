"""The ``kubernetes`` source: clusters as actual state (SPEC 4.2, 4.4).

- ``snapshot:`` mode reads ``kubectl get -o json`` exports
  (:class:`KubernetesSnapshotSource`);
- live mode reads kubeconfig contexts once per sync (:class:`KubernetesLiveSource`)
  or keeps them current with watches for the server (:class:`KubernetesWatchSource`,
  one :class:`~trueup.sources.kubernetes.watch.ClusterWatcher` per cluster).

All three share the collectors (:mod:`~trueup.sources.kubernetes.collectors`,
:mod:`~trueup.sources.kubernetes.crossplane`) and the declarative mappings
(:mod:`~trueup.sources.kubernetes.mappings`). The Kubernetes client library is
used only in :mod:`~trueup.sources.kubernetes.transport`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trueup.lazy import lazy_attributes

if TYPE_CHECKING:
    from trueup.sources.kubernetes.live import KubernetesLiveSource
    from trueup.sources.kubernetes.snapshot import KubernetesSnapshotSource
    from trueup.sources.kubernetes.watch_source import KubernetesWatchSource

__all__ = ["KubernetesLiveSource", "KubernetesSnapshotSource", "KubernetesWatchSource"]

# Imported on first use: reading exports must not pay for loading the Kubernetes client.
__getattr__ = lazy_attributes(
    __name__,
    {
        "KubernetesLiveSource": "trueup.sources.kubernetes.live",
        "KubernetesSnapshotSource": "trueup.sources.kubernetes.snapshot",
        "KubernetesWatchSource": "trueup.sources.kubernetes.watch_source",
    },
)
