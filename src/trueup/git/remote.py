"""Remote repository addresses: their names, their identity, and credentials kept out of sight.

Used by :class:`~trueup.git.repository.GitRepository` and by the code that names
repositories (the ``git`` source's scope, the mirror sink's messages).

A URL may carry a credential (``https://x-access-token:TOKEN@github.com/…``, as
CI jobs write them, or ``https://TOKEN@github.com/…``, as GitHub and Bitbucket
document a token). :func:`remote_access` takes it out: git is given the bare
URL, and the credential travels as an ``Authorization`` header in git's
environment (``GIT_CONFIG_COUNT``/``KEY``/``VALUE``), so it never appears on a
command line (``ps``), in a clone's ``.git/config``, or in git's messages; the
secrets it returns are masked in every message trueup derives from git.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

_USERINFO_PASSWORD = re.compile(r"(://[^/@:]*):[^/@]*@")
# ``https://<token>@host/…``: over HTTP(S) a user without a password is a token (GitHub,
# Bitbucket access tokens); an ``ssh://git@`` user is no secret and stays.
_USERINFO_TOKEN = re.compile(r"(?i)(\bhttps?://)[^/@:\s'\"]+@")
_SCP = re.compile(r"^[^/@]+@([^/:]+):(.+)$")  # git@host:owner/name.git


def redact_url(url: str) -> str:
    """The URL without a password or token (``https://user:****@host/…``,
    ``https://****@host/…``)."""
    return _USERINFO_TOKEN.sub(r"\1****@", _USERINFO_PASSWORD.sub(r"\1:****@", url))


def repository_name(url: str) -> str:
    """``https://host/acme/catalog.git`` → ``catalog``; a local path → its folder name."""
    path = url.rstrip("/")
    if "://" in path:
        path = urlsplit(path).path.rstrip("/")
    elif re.match(r"^[^/]+@[^/:]+:", path):  # git@host:acme/catalog.git
        path = path.split(":", 1)[1]
    name = path.rsplit("/", 1)[-1].removesuffix(".git")
    return re.sub(r"[^A-Za-z0-9._-]", "-", name) or "repository"


def identity(url: str) -> str:
    """``host/owner/name`` of a remote (lowercase, no scheme, user or ``.git``)."""
    scp = _SCP.match(url)
    if scp:
        return f"{scp.group(1)}/{scp.group(2).strip('/').removesuffix('.git')}".lower()
    if "://" in url:
        parts = urlsplit(url)
        return f"{parts.hostname or ''}/{parts.path.strip('/').removesuffix('.git')}".lower()
    return url.strip("/").removesuffix(".git").lower()


@dataclass(frozen=True)
class RemoteAccess:
    """How git reaches a remote: the URL it is given, extra environment, what to mask."""

    url: str
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


def remote_access(url: str, env: Mapping[str, str] | None = None) -> RemoteAccess:
    """Move an HTTP(S) URL's ``user:password@`` or ``user@`` into an ``Authorization`` header.

    Over HTTP(S) a user without a password is a token (as :func:`redact_url`
    treats it): it is sent as ``Basic base64("<user>:")``, what git itself
    sends for such a URL when the password prompt answers nothing, and it is
    one of the secrets. Other URLs (local paths, ``ssh://git@…``, ``git://``,
    ``git@host:``) and HTTP(S) URLs without a user are returned as they are.
    ``env`` is the environment the caller already gives git; a header is
    appended to the ``GIT_CONFIG_*`` entries it holds.
    """
    given = dict(env or {})
    parts = urlsplit(url) if "://" in url else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not (parts.username or parts.password is not None)
    ):
        return RemoteAccess(url, given)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    index = int(given.get("GIT_CONFIG_COUNT", "0") or 0)
    given.update(
        {
            "GIT_CONFIG_COUNT": str(index + 1),
            f"GIT_CONFIG_KEY_{index}": "http.extraHeader",
            f"GIT_CONFIG_VALUE_{index}": f"Authorization: Basic {token}",
        }
    )
    # With a password the user is a name (``x-access-token``); without one it is the token.
    shown = (password, parts.password) if parts.password is not None else (user, parts.username)
    secrets = tuple(dict.fromkeys(s for s in (*shown, token) if s))
    return RemoteAccess(bare, given, secrets)
