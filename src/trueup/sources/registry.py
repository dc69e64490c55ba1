"""Which class reads which ``type:`` of source. Built-ins are listed here, plainly.

Called by the pipeline and by ``trueup config check``. A configured type whose
connector is not available in this build is a configuration error that says so,
never a silent skip.
"""

from __future__ import annotations

from collections.abc import Sequence

from trueup.config import (
    FileSourceConfig,
    GithubSourceConfig,
    GitSourceConfig,
    KubernetesSourceConfig,
    SourceConfig,
    TerraformSourceConfig,
)
from trueup.errors import ConfigError
from trueup.sources.base import Source


def build_source(config: SourceConfig, others: Sequence[SourceConfig] = ()) -> Source:
    """The source for one configured ``type:``; ``others`` are the rest of the config's sources."""
    if isinstance(config, FileSourceConfig):
        from trueup.sources.file import FileSource

        return FileSource(config)
    if isinstance(config, KubernetesSourceConfig):
        if config.snapshot:
            from trueup.sources.kubernetes.snapshot import KubernetesSnapshotSource

            return KubernetesSnapshotSource(config)
        from trueup.sources.kubernetes.live import KubernetesLiveSource

        return KubernetesLiveSource(config)
    if isinstance(config, GitSourceConfig):
        from trueup.sources.git import GitSource

        return GitSource(config, others=others)
    if isinstance(config, GithubSourceConfig):
        from trueup.sources.github import GithubSource

        return GithubSource(config)
    if isinstance(config, TerraformSourceConfig):
        from trueup.sources.terraform import TerraformSource

        return TerraformSource(config)
    raise ConfigError(
        f"source {config.id!r}: type {config.type!r} is not available in this build yet"
    )
