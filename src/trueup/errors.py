"""Every exception trueup raises, in one place.

    TrueupError
    ├── ConfigError              bad configuration: fails fast, names the key (exit 1)
    ├── RefError                 a string that is not a valid entity reference
    ├── SourceError              a scope could not be read completely (exit 2; nothing replaced)
    │   ├── SourceUnavailableError   transient: network, server error
    │   │   └── KubeUnreachableError     no usable answer from a cluster
    │   │       └── KubeIdleError            a watch stream went silent
    │   ├── RepositoryError          a git operation failed
    │   ├── GithubError              a GitHub API request failed
    │   │   └── RateLimitedError         a rate limit is in force until a time
    │   ├── KubeApiError             a Kubernetes API server answered with an error Status
    │   ├── KubeAuthError            a kubeconfig context cannot be used
    │   └── ListFailedError          one resource type could not be listed completely
    ├── StoreError               the database refused or lost a write
    │   └── ConcurrentCommitError    another sync committed since this one read the store
    └── SinkError                a sink could not publish what was committed (the commit stays)
        └── MirrorDivergedError      someone else changed the mirror's files: not overwritten

A source error carries a :class:`FailureKind`: how the scope's read failed, as
shown in its health. Bad *data* (an invalid catalog file, an unknown status
value, a corrupt Terraform state) never raises: it becomes a finding or a
failed read. Exceptions from libraries underneath (PyYAML, SQLAlchemy, httpx,
the Kubernetes client, boto3) are translated where they enter and chained with
``from``.
"""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    """How a read failed; shown in scope health, distinct from "empty"."""

    UNREACHABLE = "unreachable"
    FORBIDDEN = "forbidden"
    NOT_INSTALLED = "not-installed"
    RATE_LIMITED = "rate-limited"
    INVALID = "invalid"
    CORRUPT = "corrupt"  # reached, but its data is damaged (a git object missing)
    ERROR = "error"


class TrueupError(Exception):
    """Base of every trueup error."""


class ConfigError(TrueupError):
    """The configuration is invalid; the message names the file, line and key."""


class RefError(TrueupError, ValueError):
    """A string is not a valid ``[kind:][namespace/]name`` entity reference."""


class SourceError(TrueupError):
    """A scope could not be read completely; its previous snapshot stays."""


class SourceUnavailableError(SourceError):
    """A transient failure (network, rate limit, 5xx): try again later."""


class StoreError(TrueupError):
    """The store could not complete an operation; nothing was half-written."""


class ConcurrentCommitError(StoreError):
    """Another sync committed after this one read the stored snapshots: assemble again."""


# --- git and GitHub ------------------------------------------------------------------


class RepositoryError(SourceError):
    """A git operation failed; ``kind`` is how the scope's read failed."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class GithubError(SourceError):
    """A request failed; ``kind`` is how the scope's read failed, ``status`` the HTTP status."""

    def __init__(self, kind: FailureKind, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class RateLimitedError(GithubError):
    """A rate limit is in force until ``until`` (epoch seconds)."""

    def __init__(self, message: str, until: float) -> None:
        super().__init__(FailureKind.RATE_LIMITED, message, 429)
        self.until = until


# --- Kubernetes ----------------------------------------------------------------------


class KubeApiError(SourceError):
    """The API server refused a request with an error Status."""

    def __init__(
        self, status: int, reason: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


class KubeUnreachableError(SourceUnavailableError):
    """The cluster gave no usable answer (network, TLS, timeout, garbage)."""


class KubeIdleError(KubeUnreachableError):
    """A watch stream sent nothing for longer than its idle deadline."""


class KubeAuthError(SourceError):
    """The kubeconfig context cannot be used (unknown context, bad credentials setup)."""


class ListFailedError(SourceError):
    """One resource type could not be listed completely; nothing of it is replaced."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class SinkError(TrueupError):
    """A sink could not publish what was committed; the store is up to date, the sink is behind."""


class MirrorDivergedError(SinkError):
    """The git mirror holds changes trueup did not make; they are reported, never overwritten."""
