"""The ``github`` source's configuration (``type: github``): an organisation or repositories."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, field_validator

from trueup.config_model import Duration, SourceConfig, YamlBool, parse_duration, web_url
from trueup.sources.repository_catalog.weblinks import WebLinks, commit_view_url, github_web_root


class GithubSourceConfig(SourceConfig):
    """Discovery over an organisation's repositories (or a list/globs of ``owner/name``)."""

    type: Literal["github"]
    org: str | None = None
    repositories: list[str] = []  # ``owner/name`` or globs such as ``acme/*-service``
    token: SecretStr | None = None
    api_url: str = "https://api.github.com"
    # Paths or globs (``**/catalog-info.yaml``) read in every repository.
    catalog_path: str | list[str] = "catalog-info.yaml"
    branch: str | None = None  # None: each repository's default branch
    include_archived: YamlBool = False
    # Read file contents with ``git fetch`` instead of the API: no rate limit is
    # spent on contents, worth it for repositories with many catalog files.
    use_git_for_content: YamlBool = False
    timeout: Duration = timedelta(seconds=30)  # one HTTP request at most
    max_retry_wait: Duration = timedelta(seconds=60)  # longer waits fail the scope instead
    max_retries: int = Field(3, ge=0, le=10)  # for secondary rate limits, then degraded
    per_page: int = Field(100, ge=1, le=100)

    @field_validator("timeout", "max_retry_wait", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        return parse_duration(value)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str | None:
        return web_url(value)

    @property
    def catalog_paths(self) -> list[str]:
        paths = self.catalog_path
        return [paths] if isinstance(paths, str) else list(paths)

    def reads_repository(self, key: str) -> bool:
        owner_name = key.split("/", 1)[1] if "/" in key else key
        listed = {r.lower() for r in self.repositories}
        return owner_name in listed or owner_name.split("/")[0] == (self.org or "").lower()

    def file_url(self, repo: str, commit: str, path: str) -> str | None:
        web = f"{github_web_root(self.api_url)}/{quote(repo, safe='/')}"
        return commit_view_url(WebLinks(branch=commit, web=web, host="github"), path, commit)
