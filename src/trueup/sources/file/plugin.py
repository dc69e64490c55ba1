"""The ``file`` source plugin, named by the ``trueup.sources`` entry point ``file``."""

from __future__ import annotations

from trueup.sources.base import Source, SourcePlugin, SourceSetup
from trueup.sources.file.config import FileSourceConfig


def create(config: FileSourceConfig, setup: SourceSetup) -> Source:
    from trueup.sources.file.source import FileSource

    return FileSource(config)


PLUGIN = SourcePlugin(
    config=FileSourceConfig,
    create=create,
    summary="a local folder of Backstage descriptor files (intent)",
)
