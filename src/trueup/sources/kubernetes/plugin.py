"""The ``kubernetes`` source plugin, named by the ``trueup.sources`` entry point ``kubernetes``.

``snapshot:`` configured: the exports are read (no Kubernetes client is
loaded); otherwise the kubeconfig's clusters are read live, once per sync.
"""

from __future__ import annotations

from trueup.sources.base import Source, SourcePlugin, SourceSetup
from trueup.sources.kubernetes.config import KubernetesSourceConfig


def create(config: KubernetesSourceConfig, setup: SourceSetup) -> Source:
    if config.snapshot:
        from trueup.sources.kubernetes.snapshot import KubernetesSnapshotSource

        return KubernetesSnapshotSource(config)
    from trueup.sources.kubernetes.live import KubernetesLiveSource

    return KubernetesLiveSource(config)


PLUGIN = SourcePlugin(
    config=KubernetesSourceConfig,
    create=create,
    summary="clusters (live or kubectl exports): workloads, Argo CD, Crossplane (actual)",
)
