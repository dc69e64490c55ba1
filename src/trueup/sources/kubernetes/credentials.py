"""How trueup uses a kubeconfig context's credentials: client-go's rules, and nothing run unasked.

Called by :func:`~trueup.sources.kubernetes.transport.client_for` before the
Kubernetes client library sees a context, and by ``trueup config check``.
:func:`prepare` turns one context of a parsed kubeconfig into what the library
may load, or refuses it with a :class:`~trueup.errors.KubeAuthError` whose
message never holds a credential:

- **Commands run only when the source opts in.** An ``exec`` credential plugin,
  and an ``auth-provider`` that runs something (gcp's ``cmd-path`` or Google's
  credential chain; oidc's refresh over the network), run only when the source
  sets ``allow_exec: true``. Otherwise the scope fails with a clear reason and
  nothing is run. (The Python client runs them while loading the kubeconfig,
  silently; kubectl runs them because the user who typed the command owns the
  kubeconfig. A service reading someone's kubeconfig must be told.)
- **Tokens as client-go reads them.** ``token`` wins over ``tokenFile``; a token
  file is read like client-go's file token source — surrounding whitespace
  trimmed (``echo TOKEN > file`` writes a newline), empty refused — and re-read
  once a minute so a rotated token is picked up. The file is read through
  :mod:`trueup.path_policy` (a regular file, at most 64 KiB), and its content
  must look like a bearer token (visible ASCII, no spaces): ``tokenFile:
  /etc/passwd`` is refused without a byte of it shown.
- **Every credential is a known secret.** Tokens, passwords and client keys go
  to :data:`~trueup.redaction.KNOWN_SECRETS`, so no finding, row, output or log
  line can show them.
- **Insecure transport is said.** ``insecure-skip-tls-verify: true`` and
  credentials sent to an ``http://`` server are :class:`SecurityNote` values; the
  source turns them into ``insecure-connection`` findings and reads on, as
  client-go would. urllib3's ``InsecureRequestWarning`` for that one server is
  therefore handled (the finding says it once per read), not printed per request.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from urllib3.exceptions import InsecureRequestWarning

from trueup.errors import KubeAuthError
from trueup.path_policy import Refusal, read_file
from trueup.redaction import KNOWN_SECRETS

MAX_TOKEN_FILE = 64 * 1024
MAX_TOKEN = 16 * 1024
TOKEN_FILE_PERIOD = 60.0  # seconds; client-go's file token source re-reads as often
# A bearer token as an HTTP header can carry it: visible ASCII, no spaces.
_TOKEN = re.compile(r"[\x21-\x7e]+")

KubeDocument = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SecurityNote:
    """Something insecure about how a context reaches its cluster (shown as a finding)."""

    kind: str  # "insecure-skip-tls-verify" or "credentials-over-http"
    message: str


@dataclass(frozen=True)
class PreparedContext:
    """One context as the client library may load it, and what trueup says about it."""

    document: dict[str, Any]  # a kubeconfig holding this context, token files resolved
    base: Path  # the kubeconfig's folder: relative paths in it are relative to it
    context: str
    server: str
    notes: tuple[SecurityNote, ...]
    token_file: Path | None  # re-read periodically, as client-go does


def prepare(
    document: KubeDocument, context: str, *, base: Path, allow_exec: bool
) -> PreparedContext:
    """Check one context against the rules above; raises KubeAuthError naming the rule."""
    entry = _named(document.get("contexts"), context, "context")
    if entry is None:
        raise KubeAuthError(f"context {context!r} is not in the kubeconfig")
    cluster_name, user_name = entry.get("cluster"), entry.get("user")
    cluster = _named(document.get("clusters"), cluster_name, "cluster") or {}
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeAuthError(f"context {context!r}: cluster {cluster_name!r} has no server")
    user = dict(_named(document.get("users"), user_name, "user") or {})
    where = f"context {context!r} (user {user_name!r})"
    _refuse_commands(user, where, allow_exec)
    token_file: Path | None = None
    token = user.get("token")
    if isinstance(token, str) and token:
        user["token"] = _checked_token(token, where, "its token")
    elif isinstance(user.get("tokenFile"), str) and user["tokenFile"]:
        token_file = _resolve(base, user["tokenFile"])
        user["token"] = read_token_file(token_file, where)
        user.pop("tokenFile")
    for key in ("token", "password", "client-key-data"):
        KNOWN_SECRETS.add(user.get(key) if isinstance(user.get(key), str) else None)
    notes = _notes(cluster, user, server, allow_exec)
    prepared = copy.deepcopy(dict(document))
    prepared["users"] = [{"name": user_name, "user": user}]
    prepared["contexts"] = [{"name": context, "context": dict(entry)}]
    prepared["clusters"] = [{"name": cluster_name, "cluster": dict(cluster)}]
    prepared["current-context"] = context
    return PreparedContext(prepared, base, context, server.rstrip("/"), notes, token_file)


def _refuse_commands(user: Mapping[str, Any], where: str, allow_exec: bool) -> None:
    if allow_exec:
        return
    plugin = user.get("exec")
    if plugin is not None:
        command = plugin.get("command") if isinstance(plugin, Mapping) else None
        program = Path(command).name if isinstance(command, str) and command else "?"
        raise KubeAuthError(
            f"{where} uses an exec credential plugin ({program}); it was not run: trueup runs "
            "credential commands only when the source sets allow_exec: true"
        )
    provider = user.get("auth-provider")
    if isinstance(provider, Mapping):
        name = provider.get("name")
        found = provider.get("config")
        settings: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        # oidc with only an id-token runs nothing; anything else runs or refreshes.
        if name != "oidc" or "cmd-path" in settings or settings.get("refresh-token"):
            what = "runs cmd-path" if "cmd-path" in settings else f"is the {name!r} auth-provider"
            raise KubeAuthError(
                f"{where} {what}; it was not run: trueup runs auth-provider commands and "
                "refreshes only when the source sets allow_exec: true"
            )


def read_token_file(path: Path, where: str) -> str:
    """A token file's token, read like client-go: trimmed, non-empty, one token."""
    data = read_file(path, max_bytes=MAX_TOKEN_FILE)
    if isinstance(data, Refusal):
        raise KubeAuthError(f"{where}: tokenFile {data.message}")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise KubeAuthError(
            f"{where}: tokenFile {path} does not hold a bearer token (not UTF-8 text); not used"
        ) from None
    if not text:
        raise KubeAuthError(f"{where}: tokenFile {path} is empty")
    return _checked_token(text, where, f"tokenFile {path}")


def _checked_token(token: str, where: str, what: str) -> str:
    if len(token) <= MAX_TOKEN and _TOKEN.fullmatch(token):
        KNOWN_SECRETS.add(token)
        return token
    lines = token.count("\n") + 1
    shape = f"{lines} lines" if lines > 1 else "spaces or control characters"
    if len(token) > MAX_TOKEN:
        shape = f"{len(token)} characters"
    raise KubeAuthError(f"{where}: {what} does not hold a bearer token ({shape}); not used")


def _notes(
    cluster: Mapping[str, Any], user: Mapping[str, Any], server: str, allow_exec: bool
) -> tuple[SecurityNote, ...]:
    notes: list[SecurityNote] = []
    if cluster.get("insecure-skip-tls-verify") is True:
        notes.append(
            SecurityNote(
                "insecure-skip-tls-verify",
                f"insecure-skip-tls-verify is set: the certificate of {server} is not "
                "verified, so anyone on the path can read and change what trueup sees",
            )
        )
    sends = any(user.get(k) for k in ("token", "password")) or (
        allow_exec and ("exec" in user or "auth-provider" in user)
    )
    if sends and urlsplit(server).scheme.lower() == "http":
        notes.append(
            SecurityNote(
                "credentials-over-http",
                f"credentials are sent over plain HTTP to {server}: anyone on the path "
                "can read them; use https://",
            )
        )
    return tuple(notes)


def handle_insecure_warnings(server: str) -> None:
    """urllib3's per-request warning for this server, already reported as a finding.

    Only ``InsecureRequestWarning`` for this one host is ignored, and only for a
    context whose ``insecure-skip-tls-verify`` trueup reported; any other
    insecure request still warns.
    """
    host = urlsplit(server).hostname or ""
    warnings.filterwarnings(
        "ignore",
        message=f"Unverified HTTPS request is being made to host '{re.escape(host)}'",
        category=InsecureRequestWarning,
    )


class TokenFileRefresh:
    """A ``refresh_api_key_hook`` that re-reads a token file once a period (client-go's).

    A file that cannot be read any more keeps the last good token, as client-go does.
    """

    def __init__(self, path: Path, where: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.where, self.clock = path, where, clock
        self.read_at = clock()
        self._lock = threading.Lock()

    def __call__(self, configuration: Any) -> None:
        with self._lock:
            if self.clock() - self.read_at < TOKEN_FILE_PERIOD:
                return
            self.read_at = self.clock()
            try:
                token = read_token_file(self.path, self.where)
            except KubeAuthError:
                return
            configuration.api_key["BearerToken"] = f"Bearer {token}"


def _named(items: object, name: object, key: str) -> Mapping[str, Any] | None:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, Mapping) and item.get("name") == name:
            inner = item.get(key)
            return inner if isinstance(inner, Mapping) else None
    return None


def _resolve(base: Path, path: str) -> Path:
    expanded = Path(path).expanduser()
    return expanded if expanded.is_absolute() else base / expanded
