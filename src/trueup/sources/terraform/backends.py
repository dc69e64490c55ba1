"""Where Terraform states are read from: local files, S3 and HTTP state backends.

Called by :class:`~trueup.sources.terraform.source.TerraformSource`, which
asks :func:`open_backend` for the backend its ``state:`` names, then
``locate()`` for the states (one scope each) and ``fetch()`` for their bytes.
Every failure comes back as a :class:`ReadFailure` (never an exception) with
the kind the engine needs: missing → ``not-installed``, 401/403 or no
credentials → ``forbidden``, network trouble and 5xx → ``unreachable``, 429 →
``rate-limited``, too large → ``invalid``. Messages name the location (never
credentials, query strings or response bodies, which may echo secrets).

- ``path/to/x.tfstate``, a glob (``states/**/*.tfstate``) or a folder (every
  ``*.tfstate`` below it), read through :mod:`trueup.path_policy`: a match that
  leads outside the glob's folder through a symbolic link, or that is a FIFO,
  socket or device, fails its scope (``invalid``) naming it, and is never read;
- ``s3://bucket/key`` or ``s3://bucket/prefix/*.tfstate`` (``*`` stays within
  one ``/`` level, ``**`` crosses them), through boto3 with the usual
  credential chain and an optional ``endpoint_url`` for S3-compatible servers;
- ``https://…`` (or ``http://``): a Terraform HTTP state backend, read with a
  GET through httpx, with optional basic auth and headers. Redirects are
  followed, but the credentials (basic auth and every configured header) go to
  the configured origin only (scheme, host, port; or its https upgrade): a
  redirect elsewhere (a pre-signed object-storage URL) is asked without them.

Scope names are stable and readable: the path relative to the pattern's fixed
folder for local files (``prod/payments``), the object URL for S3
(``s3://bucket/key``) and the URL without query or credentials for HTTP. The
``.tfstate`` extension and a final ``terraform.tfstate`` file name are left
out of the short *label* used in entity names.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit, urlunsplit

from trueup.errors import ConfigError
from trueup.model.observation import FailureKind
from trueup.path_policy import Refusal, Rule, read_file, read_under
from trueup.sources.terraform.config import TerraformSourceConfig

if TYPE_CHECKING:
    import httpx
    from mypy_boto3_s3 import S3Client

EXTENSION = ".tfstate"
DEFAULT_FILE = "terraform"  # terraform.tfstate, the default state file name
_MAGIC = re.compile(r"[*?\[]")
MAX_REDIRECTS = 20  # as httpx follows them


@dataclass(frozen=True, slots=True)
class StateLocation:
    """One state: its scope name, the label for entity names, where it is."""

    scope: str
    label: str
    where: str  # a path, s3://bucket/key or a URL without credentials, for messages
    target: str  # what fetch reads: a path, an object key or the configured URL


@dataclass(frozen=True, slots=True)
class ReadFailure:
    """Why locating or fetching states did not complete."""

    kind: FailureKind
    message: str


class Backend(Protocol):
    def locate(self) -> list[StateLocation] | ReadFailure:
        """Every state the configured location names (for a pattern: those that exist)."""
        ...

    def fetch(self, location: StateLocation) -> bytes | ReadFailure:
        """The bytes of one state, at most ``max_state_size`` of them."""
        ...

    def close(self) -> None: ...


def open_backend(config: TerraformSourceConfig) -> Backend:
    """The backend for ``config.state``. Raises ConfigError for a location it cannot read."""
    scheme = urlsplit(config.state).scheme.lower() if "://" in config.state else ""
    if scheme not in ("", "s3", "http", "https"):
        raise ConfigError(
            f"source {config.id!r}: state {scheme}:// is not supported "
            "(use a local path or glob, s3://bucket/key or https://)"
        )
    family = "http" if scheme == "https" else scheme or "local"
    for key, only in _BACKEND_KEYS.items():
        if family != only and getattr(config, key) not in (None, {}):
            raise ConfigError(
                f"source {config.id!r}: {key} applies to {only}:// states only, "
                f"not to {shown_location(config.state)}"
            )
    if scheme == "s3":
        return S3Backend(config)
    if scheme:
        return HttpBackend(config)
    return LocalBackend(config)


# Keys of TerraformSourceConfig that only one kind of backend uses.
_BACKEND_KEYS = {
    "endpoint_url": "s3",
    "region": "s3",
    "username": "http",
    "password": "http",
    "headers": "http",
}


def _require(module: str, config: TerraformSourceConfig, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"source {config.id!r}: {why} needs the {module} package installed")


def shown_location(state: str) -> str:
    """A configured location as messages show it: no credentials, query or fragment."""
    if "://" not in state:
        return state
    parts = urlsplit(state)
    host = parts.netloc.rpartition("@")[2]  # without user:password@
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def state_label(relative: PurePosixPath, parent: str = "") -> str:
    """``prod/payments.tfstate`` → ``prod/payments``; ``prod/terraform.tfstate`` → ``prod``."""
    parts = list(relative.parts)
    if parts and parts[-1].endswith(EXTENSION):
        parts[-1] = parts[-1][: -len(EXTENSION)]
    if parts and parts[-1] == DEFAULT_FILE:
        if len(parts) > 1:
            parts.pop()
        elif parent:
            parts = [parent]
    return "/".join(p for p in parts if p) or parent or "state"


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex: ``*`` and ``?`` stay within one ``/`` level, ``**`` crosses them."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _fixed_folder(pattern: str) -> str:
    """The part of a pattern before its first wildcard, up to the last ``/``."""
    match = _MAGIC.search(pattern)
    fixed = pattern[: match.start()] if match else pattern
    return fixed[: fixed.rfind("/") + 1]


def _too_large(where: str, limit: int) -> ReadFailure:
    return ReadFailure(
        FailureKind.INVALID, f"{where} is larger than max_state_size ({limit} bytes); refused"
    )


# --- local files ---------------------------------------------------------------


class LocalBackend:
    """A state file, a glob of them, or a folder of ``*.tfstate`` files."""

    def __init__(self, config: TerraformSourceConfig) -> None:
        self.pattern = config.state
        self.limit = config.max_state_size
        self.root: Path | None = None  # the folder a glob's matches must stay under

    def locate(self) -> list[StateLocation] | ReadFailure:
        pattern = self.pattern
        if not glob.has_magic(pattern):
            path = Path(pattern)
            if not path.is_dir():
                label = state_label(PurePosixPath(path.name), path.parent.name)
                return [StateLocation(label, label, str(path), str(path))]
            pattern = str(path / "**" / f"*{EXTENSION}")
        base = Path(_fixed_folder(pattern) or ".")
        self.root = base
        found: list[StateLocation] = []
        for match in sorted(glob.glob(pattern, recursive=True)):
            path = Path(match)
            if path.is_dir() and not path.is_symlink():
                continue  # a FIFO or a link is kept: fetch refuses it with a reason
            relative = PurePosixPath(path.relative_to(base).as_posix())
            label = state_label(relative, path.parent.name)
            found.append(StateLocation(label, label, str(path), str(path)))
        return found

    def fetch(self, location: StateLocation) -> bytes | ReadFailure:
        """The state's bytes through :mod:`trueup.path_policy`: a glob's match must stay
        under the glob's folder and be a regular file; a named file is read as named."""
        target = Path(location.target)
        if self.root is None:
            data = read_file(target, max_bytes=self.limit)
        else:
            data = read_under(self.root, os.path.relpath(target, self.root), max_bytes=self.limit)
        if not isinstance(data, Refusal):
            return data
        if data.rule is Rule.TOO_LARGE:
            return _too_large(location.where, self.limit)
        if data.rule is Rule.MISSING:
            return ReadFailure(FailureKind.NOT_INSTALLED, f"no state file at {location.where}")
        if data.rule is Rule.FORBIDDEN:
            return ReadFailure(FailureKind.FORBIDDEN, f"{location.where}: permission denied")
        if data.rule is Rule.UNREADABLE:
            return ReadFailure(FailureKind.UNREACHABLE, f"{location.where} {data.reason}")
        if data.rule is Rule.NOT_A_FILE:
            return ReadFailure(FailureKind.INVALID, f"{location.where} is a folder, not a state")
        return ReadFailure(FailureKind.INVALID, f"{location.where} {data.reason}")

    def close(self) -> None:
        return None


# --- S3 and S3-compatible servers --------------------------------------------------


class S3Backend:
    """``s3://bucket/key`` or ``s3://bucket/prefix/*.tfstate`` through boto3."""

    def __init__(self, config: TerraformSourceConfig) -> None:
        parts = urlsplit(config.state)
        self.bucket, self.key = parts.netloc, parts.path.lstrip("/")
        if not self.bucket or not self.key or parts.query or parts.fragment:
            raise ConfigError(
                f"source {config.id!r}: state must be s3://bucket/key or "
                "s3://bucket/prefix/*.tfstate"
            )
        _require("boto3", config, "reading s3://")
        self.config = config
        self.limit = config.max_state_size
        self._client: S3Client | None = None

    def client(self) -> S3Client:
        if self._client is None:
            import boto3
            from botocore.config import Config as BotoConfig

            seconds = self.config.timeout.total_seconds()
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.config.endpoint_url,
                region_name=self.config.region,
                config=BotoConfig(
                    connect_timeout=seconds,
                    read_timeout=seconds,
                    retries={"max_attempts": 3, "mode": "standard"},
                    # S3-compatible servers (MinIO, moto…) want path-style addresses.
                    s3={"addressing_style": "path"} if self.config.endpoint_url else None,
                ),
            )
        return self._client

    def _location(self, key: str, relative: str) -> StateLocation:
        where = f"s3://{self.bucket}/{key}"
        label = state_label(PurePosixPath(relative), PurePosixPath(key).parent.name)
        return StateLocation(where, label, where, key)

    def locate(self) -> list[StateLocation] | ReadFailure:
        magic = _MAGIC.search(self.key)
        if magic is None:
            return [self._location(self.key, PurePosixPath(self.key).name)]
        fixed = _fixed_folder(self.key)
        wanted = _glob_regex(self.key)
        prefix = self.key[: magic.start()]
        keys: list[str] = []
        try:
            for page in (
                self.client()
                .get_paginator("list_objects_v2")
                .paginate(Bucket=self.bucket, Prefix=prefix)
            ):
                keys.extend(item["Key"] for item in page.get("Contents", ()) if "Key" in item)
        except Exception as exc:  # botocore's errors, translated at this boundary
            return _s3_failure(exc, f"listing s3://{self.bucket}/{prefix}")
        return [self._location(key, key[len(fixed) :]) for key in sorted(keys) if wanted.match(key)]

    def fetch(self, location: StateLocation) -> bytes | ReadFailure:
        try:
            response = self.client().get_object(Bucket=self.bucket, Key=location.target)
            body = response["Body"]
            try:
                if response.get("ContentLength", 0) > self.limit:
                    return _too_large(location.where, self.limit)
                data = body.read(self.limit + 1)
            finally:
                body.close()
        except Exception as exc:  # botocore's errors, translated at this boundary
            return _s3_failure(exc, location.where)
        if len(data) > self.limit:
            return _too_large(location.where, self.limit)
        return data

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _s3_failure(exc: Exception, where: str) -> ReadFailure:
    """A botocore exception as a failure kind and a message without the response body."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "error"
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        said = f"{where}: {code} (HTTP {status})"
        if code in ("NoSuchKey", "NoSuchBucket", "NotFound") or status == 404:
            return ReadFailure(FailureKind.NOT_INSTALLED, f"no state at {said}")
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or status in (
            401,
            403,
        ):
            return ReadFailure(FailureKind.FORBIDDEN, f"access denied to {said}")
        if code in ("SlowDown", "Throttling", "TooManyRequests") or status == 429:
            return ReadFailure(FailureKind.RATE_LIMITED, f"rate limited at {said}")
        if status >= 500:
            return ReadFailure(FailureKind.UNREACHABLE, f"server error at {said}")
        return ReadFailure(FailureKind.ERROR, f"S3 refused {said}")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ReadFailure(
            FailureKind.FORBIDDEN,
            f"{where}: no usable AWS credentials (environment, shared files or profile)",
        )
    if isinstance(exc, ConnectionError | HTTPClientError):
        return ReadFailure(FailureKind.UNREACHABLE, f"{where}: {type(exc).__name__}")
    if isinstance(exc, BotoCoreError):
        return ReadFailure(FailureKind.ERROR, f"{where}: {type(exc).__name__}")
    raise exc


# --- HTTP state backends -----------------------------------------------------------


class HttpBackend:
    """A Terraform HTTP state backend: GET the configured address."""

    def __init__(self, config: TerraformSourceConfig) -> None:
        parts = urlsplit(config.state)
        if not parts.hostname:
            raise ConfigError(
                f"source {config.id!r}: state {shown_location(config.state)!r} has no host"
            )
        _require("httpx", config, "reading http(s)://")
        self.where = shown_location(config.state)
        self.config = config
        self.limit = config.max_state_size
        self._client: httpx.Client | None = None

    def client(self) -> httpx.Client:
        if self._client is None:
            import httpx

            # Redirects are followed by fetch(): credentials go to the configured origin only.
            self._client = httpx.Client(timeout=self.config.timeout.total_seconds())
        return self._client

    def _credentials(self) -> tuple[dict[str, str], httpx.BasicAuth | None]:
        """The configured headers and basic auth (for the configured origin only)."""
        import httpx

        auth = None
        if self.config.username is not None or self.config.password is not None:
            password = self.config.password.get_secret_value() if self.config.password else ""
            auth = httpx.BasicAuth(self.config.username or "", password)
        return {k: v.get_secret_value() for k, v in self.config.headers.items()}, auth

    def locate(self) -> list[StateLocation] | ReadFailure:
        path = PurePosixPath(urlsplit(self.where).path or "/")
        label = state_label(PurePosixPath(path.name or "state"), path.parent.name)
        return [StateLocation(self.where, label, self.where, self.config.state)]

    def fetch(self, location: StateLocation) -> bytes | ReadFailure:
        import httpx

        url = httpx.URL(location.target)
        home = _origin(url)
        headers, auth = self._credentials()
        secret = bool(headers) or auth is not None or bool(url.userinfo)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                # A configured header may hold a credential (an API key): like the basic
                # auth, it goes to the configured origin (or its https upgrade) only.
                trusted = _same_origin(home, _origin(url))
                with self.client().stream(
                    "GET", url, headers=headers if trusted else None, auth=auth if trusted else None
                ) as response:
                    if response.next_request is not None:  # a redirect: follow it here
                        url = response.next_request.url
                        continue
                    where = location.where
                    if not trusted:
                        rule = "; credentials are not sent to another origin" if secret else ""
                        where += f" (redirected to {shown_location(str(url))}{rule})"
                    failure = _http_failure(response.status_code, where)
                    if failure is not None:
                        return failure
                    chunks: list[bytes] = []
                    size = 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > self.limit:
                            return _too_large(location.where, self.limit)
                        chunks.append(chunk)
                    return b"".join(chunks)
        except httpx.TimeoutException:
            return ReadFailure(FailureKind.UNREACHABLE, f"{location.where}: timed out")
        except httpx.HTTPError as exc:  # connection refused, TLS, protocol: translated here
            return ReadFailure(FailureKind.UNREACHABLE, f"{location.where}: {type(exc).__name__}")
        return ReadFailure(
            FailureKind.ERROR, f"{location.where}: more than {MAX_REDIRECTS} redirects"
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port (the scheme's default when none is given)."""
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


def _same_origin(home: tuple[str, str, int | None], here: tuple[str, str, int | None]) -> bool:
    """``here`` is ``home``, or its upgrade from http to https on the default ports."""
    return here == home or (home == ("http", here[1], 80) and here == ("https", home[1], 443))


def _http_failure(status: int, where: str) -> ReadFailure | None:
    """The failure an HTTP status means for a state GET, or None for 200."""
    if status == 200:
        return None
    said = f"{where} answered HTTP {status}"
    if status in (204, 404):
        return ReadFailure(FailureKind.NOT_INSTALLED, f"no state: {said}")
    if status in (401, 403):
        return ReadFailure(FailureKind.FORBIDDEN, f"access denied: {said}")
    if status == 429:
        return ReadFailure(FailureKind.RATE_LIMITED, f"rate limited: {said}")
    if status >= 500:
        return ReadFailure(FailureKind.UNREACHABLE, f"server error: {said}")
    return ReadFailure(FailureKind.ERROR, f"unexpected answer: {said}")
