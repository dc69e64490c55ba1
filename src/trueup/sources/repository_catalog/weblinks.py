"""Links from an entity back to the file it was declared in, for every common git host.

The ``git`` and ``github`` sources stamp each declared entity with
``backstage.io/source-location`` (``url:<folder>``) and, where the host has
them, ``backstage.io/view-url`` and ``backstage.io/edit-url``, in each host's
own URL shapes:

==================  =====================================  ===============================
host                folder / file                          edit
==================  =====================================  ===============================
GitHub              ``/tree/<branch>/…``, ``/blob/…``      ``/edit/<branch>/<path>``
GitLab              ``/-/tree/<branch>/…``, ``/-/blob/…``  ``/-/edit/<branch>/<path>``
Bitbucket Cloud     ``/src/<branch>/…``                    ``?mode=edit&at=<branch>``
Bitbucket Server    ``/browse/…?at=refs/heads/<branch>``   (no edit page: the view URL)
==================  =====================================  ===============================

The host is recognised from the remote's address (``github.com``,
``gitlab.com``, ``bitbucket.org``, a host naming gitlab/bitbucket/github, a
``/scm/`` path) or set in the source's ``web:`` configuration; any other host
(a plain ``git://`` remote, a self-hosted forge) gets links only from the URL
templates configured there, never a guess. A local repository gets a ``file:``
source location.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

from trueup.backstage_config import WebLinksConfig

Host = Literal["github", "gitlab", "bitbucket-cloud", "bitbucket-server"]
_SCP = re.compile(r"^[^/@]+@([^/:]+):(.+)$")  # git@host:owner/name.git
_VIEW = "backstage.io/view-url"
_EDIT = "backstage.io/edit-url"


@dataclass(frozen=True, slots=True)
class WebLinks:
    """How entities of one repository branch point back at their file."""

    branch: str
    web: str | None = None  # the repository's web address
    host: Host | None = "github"  # the URL shapes of ``web``; None: templates only
    local: str | None = None  # a local repository folder: ``file:`` source locations
    templates: WebLinksConfig | None = None

    def annotations(self, path: str) -> tuple[str | None, dict[str, str]]:
        """``(source-location, {view-url, edit-url})`` for the file at ``path``."""
        folder = posixpath.dirname(path)
        folder = f"{folder}/" if folder else ""
        if self.templates is not None and _has_templates(self.templates):
            return self._templated(path, folder)
        if self.web is not None and self.host is not None:
            tree, view, edit = _shapes(self.host, self.web, self.branch, path, folder)
            return f"url:{tree}", {_VIEW: view, _EDIT: edit}
        if self.local is not None:
            return f"file:{self.local.rstrip('/')}/{folder}", {}
        return None, {}

    def _templated(self, path: str, folder: str) -> tuple[str | None, dict[str, str]]:
        assert self.templates is not None
        values = {
            "base": self.web or "",
            "branch": self.branch,
            "path": quote(path, safe="/"),
            "folder": quote(folder, safe="/"),
        }
        t = self.templates
        location = f"url:{t.source_location.format(**values)}" if t.source_location else None
        extra = {}
        if t.view_url:
            extra[_VIEW] = t.view_url.format(**values)
        if t.edit_url:
            extra[_EDIT] = t.edit_url.format(**values)
        return location, extra


def commit_view_url(links: WebLinks, path: str, commit: str) -> str | None:
    """The web page of ``path`` at ``commit`` (``links.branch`` is the commit), if known."""
    if links.host == "bitbucket-server" and links.templates is None and links.web:
        # Bitbucket Server names a commit with ``?at=<commit>``, not a ``refs/heads/`` branch.
        return f"{links.web}/browse/{quote(path, safe='/')}?at={quote(commit, safe='')}"
    _, extra = links.annotations(path)
    view = extra.get(_VIEW)
    return view if isinstance(view, str) else None


def github_web_root(api_url: str) -> str:
    """``https://api.github.com`` → ``https://github.com``; GitHub Enterprise's
    ``https://ghe.example.com/api/v3`` → ``https://ghe.example.com``."""
    parts = urlsplit(api_url.rstrip("/"))
    host = parts.netloc
    if host == "api.github.com":
        return "https://github.com"
    return f"{parts.scheme}://{host}"


def web_links(url: str, branch: str, config: WebLinksConfig | None = None) -> WebLinks:
    """The links of a git remote: its host's URL shapes, configured templates, or ``file:``."""
    base = (config.base.rstrip("/") if config and config.base else None) or web_base(url)
    host: Host | None = (config.host if config else None) or host_of(url)
    if config is not None and _has_templates(config):
        return WebLinks(branch=branch, web=base, host=host, templates=config)
    if host == "bitbucket-server" and not (config and config.base):
        base = _bitbucket_server_base(url)
    if base is not None and host is not None:
        return WebLinks(branch=branch, web=base, host=host)
    if ("://" not in url and not _SCP.match(url)) or url.startswith("file://"):
        local = url.removeprefix("file://")
        return WebLinks(branch=branch, local=str(Path(local).absolute()))
    return WebLinks(branch=branch, host=None)


def host_of(url: str) -> Host | None:
    """The kind of forge a remote's address shows, or None when it does not tell."""
    scp = _SCP.match(url)
    if scp:
        hostname, path = scp.group(1).lower(), scp.group(2)
    elif "://" in url:
        parts = urlsplit(url)
        hostname, path = (parts.hostname or "").lower(), parts.path
    else:
        return None
    if hostname == "github.com" or "github" in hostname:
        return "github"
    if hostname == "gitlab.com" or "gitlab" in hostname:
        return "gitlab"
    if hostname == "bitbucket.org":
        return "bitbucket-cloud"
    if "bitbucket" in hostname or path.startswith("/scm/"):
        return "bitbucket-server"
    return None


def web_base(url: str) -> str | None:
    """``https://host/owner/name`` of an http(s), ssh or ``git@host:`` remote, else None."""
    scp = _SCP.match(url)
    if scp:
        host, path = scp.group(1), scp.group(2)
    elif url.startswith(("https://", "http://", "ssh://")):
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
        if url.startswith("http") and parts.port:
            host = f"{host}:{parts.port}"
    else:
        return None
    path = path.strip("/").removesuffix(".git")
    scheme = "http" if url.startswith("http://") else "https"
    return f"{scheme}://{host}/{path}" if host and path else None


def _bitbucket_server_base(url: str) -> str | None:
    """``…/scm/PROJ/repo.git`` (or ssh ``…/proj/repo.git``) → ``…/projects/PROJ/repos/repo``."""
    base = web_base(url)
    if base is None:
        return None
    parts = urlsplit(base)
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0] == "scm":
        segments = segments[1:]
    if len(segments) != 2:
        return None
    project, repo = segments
    origin = f"{parts.scheme}://{parts.hostname}"
    if url.startswith("http") and parts.port:
        origin += f":{parts.port}"
    if project.startswith("~"):
        return f"{origin}/users/{project[1:]}/repos/{repo}"
    return f"{origin}/projects/{project.upper()}/repos/{repo}"


def _shapes(host: Host, web: str, branch: str, path: str, folder: str) -> tuple[str, str, str]:
    """(folder URL, view URL, edit URL) in the host's own shapes."""
    p, f, b = quote(path, safe="/"), quote(folder, safe="/"), quote(branch, safe="/")
    if host == "gitlab":
        return f"{web}/-/tree/{b}/{f}", f"{web}/-/blob/{b}/{p}", f"{web}/-/edit/{b}/{p}"
    if host == "bitbucket-cloud":
        view = f"{web}/src/{b}/{p}"
        return f"{web}/src/{b}/{f}", view, f"{view}?mode=edit&at={quote(branch, safe='')}"
    if host == "bitbucket-server":
        at = f"?at={quote('refs/heads/' + branch, safe='')}"
        view = f"{web}/browse/{p}{at}"
        return f"{web}/browse/{f}{at}", view, view
    return f"{web}/tree/{b}/{f}", f"{web}/blob/{b}/{p}", f"{web}/edit/{b}/{p}"


def _has_templates(config: WebLinksConfig) -> bool:
    return bool(config.source_location or config.view_url or config.edit_url)
