"""The ``git`` source plugin, named by the ``trueup.sources`` entry point ``git``."""

from __future__ import annotations

from trueup.sources.base import Source, SourcePlugin, SourceSetup
from trueup.sources.git.config import GitSourceConfig


def create(config: GitSourceConfig, setup: SourceSetup) -> Source:
    from trueup.sources.git.source import GitSource

    return GitSource(config, others=setup.others)


PLUGIN = SourcePlugin(
    config=GitSourceConfig,
    create=create,
    summary="Backstage descriptor files in one git repository branch (intent)",
)
