"""The ``directory`` sink plugin, named by the ``trueup.sinks`` entry point ``directory``."""

from __future__ import annotations

from trueup.sinks.base import Sink, SinkPlugin, SinkSetup
from trueup.sinks.directory.config import DirectorySinkConfig


def create(config: DirectorySinkConfig, setup: SinkSetup) -> Sink:
    from trueup.sinks.directory.sink import DirectorySink

    return DirectorySink(config)


PLUGIN = SinkPlugin(
    config=DirectorySinkConfig,
    create=create,
    summary="one YAML file per entity in a local folder",
)
