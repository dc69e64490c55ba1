"""The ``directory`` sink's configuration (``type: directory``): the folder to write."""

from __future__ import annotations

from typing import Literal, Self

from trueup.config_model import LocalPaths, SinkConfig


class DirectorySinkConfig(SinkConfig):
    type: Literal["directory"]
    path: str

    def with_local_paths(self, paths: LocalPaths) -> Self:
        return self.model_copy(update={"path": paths.local(self.path)})
