"""The ``github`` source plugin, named by the ``trueup.sources`` entry point ``github``."""

from __future__ import annotations

from trueup.sources.base import Source, SourcePlugin, SourceSetup
from trueup.sources.github.config import GithubSourceConfig


def create(config: GithubSourceConfig, setup: SourceSetup) -> Source:
    from trueup.sources.github.source import GithubSource

    return GithubSource(config)


PLUGIN = SourcePlugin(
    config=GithubSourceConfig,
    create=create,
    summary="catalog files across a GitHub organisation's repositories (intent)",
)
