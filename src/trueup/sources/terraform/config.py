"""The ``terraform`` source's configuration (``type: terraform``) and its mapping rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator

from trueup.config_model import (
    ConfigModel,
    Duration,
    LocalPaths,
    SourceConfig,
    parse_duration,
    pattern_root_problem,
    web_url,
)


class TerraformMappingConfig(ConfigModel):
    """A rule that links Terraform resource instances to entities (SPEC 4.3).

    Every match key given must match (``*`` matches any text, ``?`` one
    character); a rule without match keys matches every instance. Of all the
    rules that match, the first that sets ``name``, ``owner`` or ``system`` sets
    it, and every ``component`` counts.
    """

    state: str | None = None  # glob on the scope name, e.g. "prod/*"
    type: str | None = None  # glob on the resource type, e.g. "aws_db_*"
    address: str | None = None  # glob on the instance address, e.g. "module.payments.*"
    tags: dict[str, str] = {}  # tag or label key -> glob on its value
    component: str | None = None  # the entity it is a dependency of (default kind component)
    name: str | None = None  # the Resource entity's name, e.g. a declared one to enrich
    owner: str | None = None
    system: str | None = None


class TerraformSourceConfig(SourceConfig):
    type: Literal["terraform"]
    # A path or glob of local files, s3://bucket/key (or s3://bucket/prefix/*.tfstate),
    # or the http(s):// address of a Terraform HTTP state backend.
    state: str
    owner: str | None = None
    # Status older than this is shown Unknown. A state read again unchanged keeps the
    # time of its observations until a read finds it older than half of this.
    max_age: Duration | None = timedelta(hours=24)
    # s3://: any S3-compatible endpoint; credentials come from the usual AWS chain
    # (environment, shared files, profile), never from this file.
    endpoint_url: str | None = None
    region: str | None = None
    # http(s)://: optional basic auth and headers (e.g. Authorization: Bearer ${TOKEN}).
    username: str | None = None
    password: SecretStr | None = None
    headers: dict[str, SecretStr] = {}
    timeout: Duration = timedelta(seconds=30)
    max_state_size: int = Field(256 * 1024 * 1024, ge=1)  # bytes; a larger state is refused
    include_types: list[str] = ["*"]  # globs on resource types that become entities
    exclude_types: list[str] = []
    mappings: list[TerraformMappingConfig] = []

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: object) -> object:
        return parse_duration(value)

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        return web_url(value)

    def with_local_paths(self, paths: LocalPaths) -> Self:
        return self.model_copy(update={"state": paths.local(self.state)})

    def setup_problems(self) -> list[str]:
        return pattern_root_problem("state", self.state)
