"""The ``git`` sink plugin, named by the ``trueup.sinks`` entry point ``git``."""

from __future__ import annotations

from trueup.sinks.base import Sink, SinkPlugin, SinkSetup
from trueup.sinks.git.config import GitSinkConfig


def create(config: GitSinkConfig, setup: SinkSetup) -> Sink:
    from trueup.sinks.git.sink import GitSink

    return GitSink(config, setup)


PLUGIN = SinkPlugin(
    config=GitSinkConfig,
    create=create,
    summary="a separate mirror repository, one file per entity and an all.yaml Location",
)
