"""Paginated lists that are one consistent snapshot, or nothing.

Called by discovery, the live reader and the watcher (for its initial list and
every relist). A list is read with ``limit``/``continue``; every page must
carry the list ``resourceVersion`` of the first one, so the result is the
collection at exactly one version (anchors-reliability 3.3):

- a 410 ``Expired`` on a continue page (the token outlived the history)
  restarts the list from the first page — pages of two versions are never
  mixed; after ``max_restarts`` the type's read fails;
- 429 and 5xx answers are retried after their ``Retry-After`` (else an
  exponential backoff from 0.8 s), at most ``max_retries`` times, and never
  longer than ``max_retry_wait`` at once; then the type's read fails
  (rate-limited / error) and nothing of it is replaced;
- 403 is *no access*, 404 *not installed*: the type fails at once;
- 401 and a cluster that cannot be reached propagate: they fail the scope.

``sleep`` is injected so tests can check the waits without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from trueup.errors import KubeApiError, ListFailedError
from trueup.model.observation import FailureKind
from trueup.sources.kubernetes.objects import as_list, as_map, as_text
from trueup.sources.kubernetes.transport import ApiTransport, JSONObject

BACKOFF_INITIAL = 0.8
BACKOFF_MAX = 30.0


def failure_of(error: KubeApiError) -> tuple[FailureKind, str]:
    """The failure kind of an API error and the words shown for it."""
    if error.status == 403:
        return FailureKind.FORBIDDEN, "no access"
    if error.status == 404:
        return FailureKind.NOT_INSTALLED, "not installed"
    if error.status == 429:
        return FailureKind.RATE_LIMITED, "rate limited"
    return FailureKind.ERROR, "read failed"


@dataclass
class Listing:
    """Every item of one collection at one resourceVersion."""

    items: list[JSONObject]
    resource_version: str
    pages: int = 0
    restarts: int = 0
    waits: list[float] = field(default_factory=list)


@dataclass
class Pager:
    transport: ApiTransport
    page_size: int = 500
    max_retries: int = 3
    max_retry_wait: float = 60.0
    max_restarts: int = 3
    sleep: Callable[[float], None] = time.sleep

    def get(self, path: str, params: list[tuple[str, str]], waits: list[float]) -> JSONObject:
        """One GET, retried on 429/5xx as the module says; ListFailedError when it gives up."""
        attempt = 0
        while True:
            try:
                return self.transport.get(path, params)
            except KubeApiError as exc:
                if exc.status == 401:
                    raise
                retriable = exc.status == 429 or exc.status >= 500
                kind, label = failure_of(exc)
                if not retriable or attempt >= self.max_retries:
                    tries = f" after {attempt + 1} attempts" if retriable else ""
                    raise ListFailedError(kind, f"{label}{tries}: {exc}") from exc
                wait = exc.retry_after
                if wait is None:
                    wait = min(BACKOFF_MAX, BACKOFF_INITIAL * 2**attempt)
                if wait > self.max_retry_wait:
                    raise ListFailedError(
                        kind, f"{label}: Retry-After {wait:g}s is beyond {self.max_retry_wait:g}s"
                    ) from exc
                waits.append(wait)
                self.sleep(wait)
                attempt += 1

    def list_all(self, path: str, *, selector: str = "") -> Listing:
        """The whole collection at one resourceVersion (see the module docstring)."""
        restarts = 0
        waits: list[float] = []
        while True:
            items: list[JSONObject] = []
            version: str | None = None
            token = ""
            pages = 0
            while True:
                params = [("limit", str(self.page_size))]
                if selector:
                    params.append(("labelSelector", selector))
                if token:
                    params.append(("continue", token))
                try:
                    page = self.get(path, params, waits)
                except ListFailedError as exc:
                    cause = exc.__cause__
                    expired = isinstance(cause, KubeApiError) and cause.status == 410
                    if not (expired and token):
                        raise
                    break  # the continue token expired: start again from the first page
                pages += 1
                metadata = as_map(page.get("metadata"))
                page_version = as_text(metadata.get("resourceVersion"))
                if version is None:
                    version = page_version
                elif page_version != version:
                    break  # a page of another resourceVersion: start again
                items.extend(item for item in as_list(page.get("items")) if isinstance(item, dict))
                token = as_text(metadata.get("continue"))
                if not token:
                    return Listing(items, version, pages, restarts, waits)
            restarts += 1
            if restarts > self.max_restarts:
                raise ListFailedError(
                    FailureKind.ERROR,
                    f"{path}: the list could not be read as one snapshot "
                    f"({restarts} restarts after expired continue tokens)",
                )
