"""The ``server:`` section of ``trueup.yaml``: listen address, tokens, webhooks, scheduling.

Part of :class:`trueup.config.Config`; read by ``trueup serve`` (:mod:`trueup.web`
and :mod:`trueup.scheduler`). Webhooks fail closed: a configured webhook without
its secret, or with an empty one, is a configuration error, so the server never
starts accepting unsigned events (SPEC 6.4).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from trueup.config_model import Duration, YamlBool, parse_duration

Role = Literal["read", "admin"]


class ServeRole(StrEnum):
    """What one ``trueup serve`` process does: HTTP and background work, or one of them."""

    all = "all"
    api = "api"
    worker = "worker"


WebhookKind = Literal["github", "gitlab", "argocd"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenConfig(_Model):
    """A bearer token and what it may do: ``read`` (feed, API reads) or ``admin`` (also writes)."""

    name: str = Field(min_length=1)
    role: Role
    token: SecretStr

    @field_validator("token")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("a token must not be empty (or white space only)")
        return value


class WebhookSecretConfig(_Model):
    """How one webhook proves it is genuine.

    GitHub signs with ``secret`` (and, while rotating, any of ``secrets``);
    GitLab and Argo CD send ``token``.
    """

    secret: SecretStr | None = None
    secrets: list[SecretStr] = []
    token: SecretStr | None = None

    def all_secrets(self) -> list[bytes]:
        """Every configured HMAC secret, current first, as bytes."""
        given = ([self.secret] if self.secret is not None else []) + list(self.secrets)
        return [s.get_secret_value().encode() for s in given]


def _duration(value: object) -> object:
    return parse_duration(value)


class ServerConfig(_Model):
    listen: str = "127.0.0.1:8470"  # not 7007: that is Backstage's own backend port
    # The feed without a token (Backstage's URL reader sends none): only when said so.
    public_feed: YamlBool = False
    tokens: list[TokenConfig] = []
    webhooks: dict[WebhookKind, WebhookSecretConfig] = {}
    # Scheduling: each source every ``interval`` ± jitter (a share of it); after a
    # failed run, again after ``backoff``, doubling up to the interval.
    jitter: float = Field(0.1, ge=0.0, le=0.5)
    backoff: Duration = timedelta(seconds=30)
    concurrency: int = Field(2, ge=1, le=64)  # sync jobs one process runs at once
    # On SIGTERM: stop taking work, let running syncs finish this long, then stop.
    shutdown_timeout: Duration = timedelta(seconds=30)

    @field_validator("backoff", "shutdown_timeout", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        return _duration(value)

    @model_validator(mode="after")
    def _fail_closed(self) -> ServerConfig:
        for kind, hook in self.webhooks.items():
            if kind == "github":
                if not hook.all_secrets() or not all(s.strip() for s in hook.all_secrets()):
                    raise ValueError(
                        "webhooks.github has no secret: a webhook without one is refused "
                        "(set secret: ${GITHUB_WEBHOOK_SECRET})"
                    )
                if hook.token is not None:
                    raise ValueError("webhooks.github is signed with secret/secrets, not token")
            else:
                if hook.token is None or not hook.token.get_secret_value().strip():
                    raise ValueError(
                        f"webhooks.{kind} has no token: a webhook without one is refused"
                    )
                if hook.secret is not None or hook.secrets:
                    raise ValueError(f"webhooks.{kind} is authenticated by token, not secret")
        names = [t.name for t in self.tokens]
        if len(names) != len(set(names)):
            raise ValueError("server.tokens: two tokens share a name")
        values = [t.token.get_secret_value() for t in self.tokens]
        if len(values) != len(set(values)):
            raise ValueError("server.tokens: the same token is listed twice")
        return self
