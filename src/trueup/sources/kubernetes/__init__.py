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

from trueup.sources.kubernetes.live import KubernetesLiveSource
from trueup.sources.kubernetes.snapshot import KubernetesSnapshotSource
from trueup.sources.kubernetes.watch_source import KubernetesWatchSource

__all__ = ["KubernetesLiveSource", "KubernetesSnapshotSource", "KubernetesWatchSource"]
