"""The ``kubernetes`` source: clusters as actual state (SPEC 4.2).

``snapshot:`` mode reads ``kubectl get -o json`` exports
(:mod:`~trueup.sources.kubernetes.snapshot`); the collectors that turn objects
into observations (:mod:`~trueup.sources.kubernetes.collectors`) are shared
with the live reader.
"""

from trueup.sources.kubernetes.snapshot import KubernetesSnapshotSource

__all__ = ["KubernetesSnapshotSource"]
