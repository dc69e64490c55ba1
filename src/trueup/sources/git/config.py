"""The ``git`` source's configuration (``type: git``): one repository branch and include globs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Literal, Self

from pydantic import field_validator

from trueup.backstage_config import WebLinksConfig
from trueup.config_model import Duration, LocalPaths, SourceConfig, VersionOrder, parse_duration
from trueup.model.repository import TrackedBranch
from trueup.sources.repository_catalog.catalog import repository_of
from trueup.sources.repository_catalog.weblinks import commit_view_url, web_base, web_links


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

    def setup_problems(self) -> list[str]:
        local = self.url.startswith("/")  # the loader made a local path absolute
        if local and not Path(self.url).is_dir():
            return [f"url: the repository folder {self.url} does not exist"]
        return []

    def tracked_branch(self) -> TrackedBranch:
        return TrackedBranch(self.url, self.branch)

    def reads_repository(self, key: str) -> bool:
        web = web_base(self.url)
        return web is not None and repository_of(web) == key

    def file_url(self, repo: str, commit: str, path: str) -> str | None:
        links = replace(web_links(self.url, self.branch, self.web), branch=commit)
        return commit_view_url(links, path, commit)

    def order_versions(
        self, data_dir: Path, scope: str, version: str, other: str
    ) -> VersionOrder | None:
        from trueup.sources.git.source import order_commits, scope_of

        if scope != scope_of(self) or version == other:
            return None
        return order_commits(self, data_dir, version, other)
