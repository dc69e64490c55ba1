"""Where a value came from, in words and with a link: the dashboard's view of a locator.

A locator names one source version (``trueup.model.observation.Provenance``):

- git and GitHub: ``repo@commit:path#document`` — linked to the file *at that
  commit* when the source knows a web address (a GitHub, GitLab or Bitbucket
  remote, a configured ``web:`` base or URL templates, a GitHub source's
  repositories), using the same URL shapes as the ``backstage.io/view-url``
  annotation (:mod:`trueup.sources.repository_catalog.weblinks`);
- a file source: ``source@digest:path#document``;
- Kubernetes: ``cluster/namespace/Kind/name@resourceVersion`` — named as the
  object it is (no link: a cluster has no web page of its own);
- Terraform: ``state lineage/serial:address``.

Called by the entity, history and sources view models; pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from trueup.config_model import SourceConfig

_VIEW = "backstage.io/view-url"


@dataclass(frozen=True, slots=True)
class LocatorView:
    """A locator as shown: the raw text, what it is in words, and a link if one exists."""

    text: str
    what: str  # "git file", "Kubernetes object", "Terraform resource", "file"
    label: str  # e.g. "payments/api.yaml (document 0) at 1a2b3c4d5e6f"
    url: str | None = None


def _git_parts(locator: str) -> tuple[str, str, str, int] | None:
    """``(repo, commit, path, document)`` of ``repo@commit:path#document``, else None."""
    head, hash_, index = locator.rpartition("#")
    if not hash_ or not index.isdigit():
        return None
    version, colon, path = head.partition(":")
    repo, at, commit = version.rpartition("@")
    if not colon or not at or not path or not commit:
        return None
    return repo, commit, path, int(index)


def _kubernetes_parts(locator: str) -> tuple[str, str, str, str, str] | None:
    """``(cluster, namespace, Kind, name, resourceVersion)`` of a Kubernetes locator."""
    body, _, version = locator.partition("@")
    parts = body.rsplit("/", 3)  # a context name may hold slashes: split from the right
    if len(parts) != 4 or not parts[2] or not parts[3]:
        return None
    cluster, namespace, kind, name = parts
    return cluster, namespace, kind, name, version


class Locators:
    """Turns locators into :class:`LocatorView` for the configured sources."""

    def __init__(self, sources: Sequence[SourceConfig]) -> None:
        self._sources: Mapping[str, SourceConfig] = {s.id: s for s in sources}

    def view(self, source: str, locator: str) -> LocatorView:
        config = self._sources.get(source)
        kind = getattr(config, "type", None)
        if kind == "kubernetes":
            return _kubernetes_view(locator)
        if kind == "terraform" or locator.startswith("state "):
            return LocatorView(locator, "Terraform resource", _terraform_label(locator))
        parts = _git_parts(locator)
        if parts is None:
            return LocatorView(locator, "locator", locator)
        repo, commit, path, document = parts
        if kind == "file":
            return LocatorView(locator, "file", f"{path} #{document}")
        url = config.file_url(repo, commit, path) if config is not None else None
        return LocatorView(locator, "git file", f"{path} #{document} at {commit}", url)


def _kubernetes_view(locator: str) -> LocatorView:
    parts = _kubernetes_parts(locator)
    if parts is None:
        return LocatorView(locator, "Kubernetes object", locator)
    cluster, namespace, kind, name, version = parts
    where = f"namespace {namespace} of cluster {cluster}" if namespace else f"cluster {cluster}"
    label = f"{kind} {name} in {where}"
    if version:
        label += f" (resourceVersion {version})"
    return LocatorView(locator, "Kubernetes object", label)


def _terraform_label(locator: str) -> str:
    body = locator.removeprefix("state ")
    state, _, address = body.partition(":")
    lineage, _, serial = state.rpartition("/")
    if not address or not serial:
        return locator
    return f"{address} in state {lineage}, serial {serial}"
