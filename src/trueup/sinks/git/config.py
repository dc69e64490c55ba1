"""The ``git`` sink's configuration (``type: git``): the mirror repository trueup hydrates."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import Field, field_validator

from trueup.config_model import Duration, LocalPaths, SinkConfig, YamlBool, parse_duration
from trueup.git.mirror import Signature


class GitSinkConfig(SinkConfig):
    type: Literal["git"]
    url: str  # a local path or a remote URL; ${VAR} for a token, never written in clear
    branch: str = "main"
    push: YamlBool = True  # False: commit in the local clone only (``hydrate`` without --push)
    author: str = "trueup <trueup@localhost>"  # ``Name <email>`` of the mirror's commits
    location_name: str = Field("trueup-hydrated", pattern=r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
    push_attempts: int = Field(5, ge=1, le=20)  # a rejected push is re-applied this often at most
    timeout: Duration = timedelta(minutes=5)  # one git command (fetch, push) at most

    @field_validator("author")
    @classmethod
    def _author(cls, value: str) -> str:
        Signature.parse(value)
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: object) -> object:
        return parse_duration(value)

    def with_local_paths(self, paths: LocalPaths) -> Self:
        return self.model_copy(update={"url": paths.git(self.url)})
