"""The ``git`` source's configuration (``type: git``): one repository branch and include globs."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import field_validator

from trueup.backstage_config import WebLinksConfig
from trueup.config_model import Duration, LocalPaths, SourceConfig, parse_duration
from trueup.model.repository import TrackedBranch
from trueup.sources.repository_catalog.catalog import repository_of
from trueup.sources.repository_catalog.weblinks import web_base


class GitSourceConfig(SourceConfig):
    type: Literal["git"]
    url: str
    branch: str = "main"
    include: list[str] = ["**/catalog-info.yaml"]
    web: WebLinksConfig | None = None  # default: guessed from the URL's host
    timeout: Duration = timedelta(minutes=5)  # one git command (clone, fetch) at most

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: object) -> object:
        return parse_duration(value)

    def with_local_paths(self, paths: LocalPaths) -> Self:
        return self.model_copy(update={"url": paths.git(self.url)})

    def tracked_branch(self) -> TrackedBranch:
        return TrackedBranch(self.url, self.branch)

    def reads_repository(self, key: str) -> bool:
        web = web_base(self.url)
        return web is not None and repository_of(web) == key
