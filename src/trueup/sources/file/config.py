"""The ``file`` source's configuration (``type: file``): a folder and include globs."""

from __future__ import annotations

from typing import Literal, Self

from trueup.config_model import LocalPaths, SourceConfig


class FileSourceConfig(SourceConfig):
    type: Literal["file"]
    path: str
    include: list[str] = ["**/*.yaml", "**/*.yml"]

    def with_local_paths(self, paths: LocalPaths) -> Self:
        return self.model_copy(update={"path": paths.local(self.path)})
