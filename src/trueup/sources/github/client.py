"""A small GitHub REST client that is polite by construction.

Used by :class:`~trueup.sources.github.source.GithubSource` (one client per read).

- **Conditional requests.** Every GET of a mutable resource sends the stored
  ``If-None-Match``; a ``304`` is answered from the cache (JSON file in the
  source's data folder: per URL the ETag, body and ``Link`` header) and does not
  count against the rate limit.
- **Pagination** follows ``Link: rel="next"`` as given (URLs are never built);
  :meth:`GithubClient.paginate` raises if any page fails, so a caller never sees
  a partial listing. A full last page answered by a ``304`` is asked again
  without ``If-None-Match``: GitHub's ETag does not cover the ``Link`` header.
- **Rate limits.** ``x-ratelimit-*`` of every answer is kept in
  :attr:`GithubClient.rate_limit` (persisted). A primary limit (403/429 with
  ``x-ratelimit-remaining: 0``) blocks every request until ``x-ratelimit-reset``.
  A secondary limit waits ``retry-after`` when it is no longer than
  ``max_retry_wait``, or backs off exponentially from 60 s when there is no
  ``retry-after`` — a bounded number of times; a longer wait blocks the client
  until then. A blocked client raises :class:`RateLimitedError` without sending.
- **Redirects.** A ``301`` is followed and remembered (later requests go to the
  new URL); ``302``/``307`` are followed and not remembered. The token is only
  ever sent to the configured API origin.

Errors are translated here into :class:`GithubError` (with the
:class:`~trueup.model.observation.FailureKind` a scope failure should carry);
the token never appears in any message. ``sleep`` and ``clock`` are injected so
tests do not wait.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from trueup.errors import GithubError, RateLimitedError
from trueup.model.observation import FailureKind, show_unstorable

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_SECONDARY_BACKOFF = 60.0  # GitHub: "wait for at least one minute", then exponentially
_MAX_REDIRECTS = 5
JSON_ACCEPT = "application/vnd.github+json"
SHA_ACCEPT = "application/vnd.github.sha"


@dataclass
class RateLimit:
    """The last rate-limit headers seen, and until when this client sends nothing."""

    limit: int | None = None
    remaining: int | None = None
    used: int | None = None
    reset: float | None = None  # epoch seconds
    resource: str | None = None
    blocked_until: float | None = None
    reason: str = ""

    def describe(self) -> str:
        quota = (
            f"{self.remaining} of {self.limit} requests left ({self.resource or 'core'})"
            if self.remaining is not None
            else "no rate-limit headers seen"
        )
        return f"{quota}, resets {_iso(self.reset)}" if self.reset else quota


@dataclass
class RequestStats:
    """What this client sent: every request, those that counted, and the 304s."""

    requests: int = 0
    counted: int = 0
    not_modified: int = 0


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # the final URL, after redirects
    status: int  # 200, or 304 answered from the cache
    body: bytes
    next_url: str | None
    moved_to: str | None = None  # set when a 301 was followed

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise GithubError(FailureKind.ERROR, f"{self.url}: the answer is not JSON") from exc


class GithubClient:
    """GET requests against one GitHub API origin; see the module docstring."""

    def __init__(
        self,
        api_url: str,
        token: str | None,
        *,
        cache_path: Path | None = None,
        timeout: float = 30.0,
        max_retry_wait: float = 60.0,
        max_retries: int = 3,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._origin = _origin(self.api_url)
        self._token = token
        self._cache_path = cache_path
        self._max_retry_wait = max_retry_wait
        self._max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            timeout=timeout, transport=transport, follow_redirects=False, trust_env=False
        )
        self.stats = RequestStats()
        self.rate_limit = RateLimit()
        self._etags: dict[str, dict[str, str | None]] = {}
        self._moved: dict[str, str] = {}
        self._load()

    def close(self) -> None:
        self._http.close()

    # --- public requests ---------------------------------------------------------

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        accept: str = JSON_ACCEPT,
        conditional: bool = True,
    ) -> Response:
        """GET a path (``/repos/...``) or absolute URL; 200, or a 304 served from the cache."""
        url = path if "://" in path else f"{self.api_url}{path}"
        if params:
            url = str(httpx.URL(url, params=params))
        moved_from = None
        for _ in range(_MAX_REDIRECTS + 1):
            if url in self._moved:
                moved_from, url = url, self._moved[url]
                continue
            response = self._send(url, accept, conditional)
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("location")
                if not location:
                    raise GithubError(FailureKind.ERROR, f"{url}: redirect without a location")
                target = urljoin(url, location)
                if response.status_code in (301, 308):
                    self._moved[url] = target
                    moved_from = moved_from or url
                url = target
                continue
            return self._answer(url, accept, response, moved_from)
        raise GithubError(FailureKind.ERROR, f"{path}: too many redirects")

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.get(path, **kwargs).json()

    def paginate(self, path: str, params: Mapping[str, str] | None = None) -> list[Any]:
        """Every item of a paginated listing, or an error: never a partial listing."""
        items: list[Any] = []
        response = self.get(path, params=params)
        seen = {response.url}
        while True:
            if response.status == 304 and response.next_url is None:
                response = self._fresh_if_full(response)
            page = response.json()
            if not isinstance(page, list):
                raise GithubError(FailureKind.ERROR, f"{response.url}: a listing is not a list")
            items.extend(page)
            if response.next_url is None:
                return items
            if response.next_url in seen:
                raise GithubError(FailureKind.ERROR, f"{response.url}: pagination loops")
            seen.add(response.next_url)
            response = self.get(response.next_url)

    def _fresh_if_full(self, response: Response) -> Response:
        """A last page answered by a 304 from the cache, asked again when it is full.

        GitHub's ETag is of the body alone: a full last page stays ``304`` (without
        a ``Link`` header) when a page is added after it, so the cached "no next
        page" would hide the new items.
        """
        page = response.json()
        if isinstance(page, list) and len(page) >= _page_size(response.url):
            return self.get(response.url, conditional=False)
        return response

    def save(self) -> None:
        """Persist ETags, permanent redirects and the rate-limit state (atomically)."""
        if self._cache_path is None:
            return
        data = {"etags": self._etags, "moved": self._moved, "rate_limit": asdict(self.rate_limit)}
        self._cache_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._cache_path.with_name(f"{self._cache_path.name}.tmp-{os.getpid()}")
        temporary.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, self._cache_path)

    # --- sending ---------------------------------------------------------------

    def _send(self, url: str, accept: str, conditional: bool) -> httpx.Response:
        """One logical request, with the waits and retries the rate limits allow."""
        attempt = 0
        while True:
            self._check_blocked()
            key = f"{accept} {url}"
            cached = self._etags.get(key) if conditional else None
            headers = {"Accept": accept, "X-GitHub-Api-Version": "2022-11-28"}
            if self._token and _origin(url) == self._origin:
                headers["Authorization"] = f"Bearer {self._token}"
            if cached and cached.get("etag"):
                headers["If-None-Match"] = str(cached["etag"])
            try:
                response = self._http.get(url, headers=headers)
            except httpx.TimeoutException as exc:
                raise GithubError(FailureKind.UNREACHABLE, f"{url}: no answer in time") from exc
            except httpx.HTTPError as exc:
                raise GithubError(
                    FailureKind.UNREACHABLE, f"{url}: {type(exc).__name__}: connection failed"
                ) from exc
            self.stats.requests += 1
            if response.status_code != 304:
                self.stats.counted += 1
            self._track(response)
            wait = self._limited(url, response, attempt)
            if wait is None:
                return response
            attempt += 1
            if wait > self._max_retry_wait or attempt > self._max_retries:
                until = self._clock() + wait
                self.rate_limit.blocked_until = until
                self.rate_limit.reason = "secondary rate limit"
                raise RateLimitedError(
                    f"{url}: secondary rate limit; degraded until {_iso(until)} "
                    f"(after {attempt} attempt(s))",
                    until,
                )
            self._sleep(wait)

    def _check_blocked(self) -> None:
        until = self.rate_limit.blocked_until
        if until is not None and self._clock() < until:
            raise RateLimitedError(
                f"rate-limited ({self.rate_limit.reason}) until {_iso(until)}; "
                "no requests are sent before then",
                until,
            )

    def _limited(self, url: str, response: httpx.Response, attempt: int) -> float | None:
        """None when the answer is not a rate limit; else how long to wait (primary raises)."""
        if response.status_code not in (403, 429):
            return None
        headers = response.headers
        if headers.get("x-ratelimit-remaining") == "0":
            reset = _number(headers.get("x-ratelimit-reset")) or self._clock() + 3600
            self.rate_limit.blocked_until = reset
            self.rate_limit.reason = "primary rate limit exhausted"
            raise RateLimitedError(
                f"{url}: primary rate limit exhausted; no requests until {_iso(reset)}", reset
            )
        retry_after = _number(headers.get("retry-after"))
        if retry_after is not None:
            return max(retry_after, 0.0)
        message = _message(response.content).lower()
        if response.status_code == 429 or "rate limit" in message or "abuse" in message:
            return _SECONDARY_BACKOFF * float(2**attempt)
        return None  # an ordinary 403: forbidden

    def _track(self, response: httpx.Response) -> None:
        headers = response.headers
        limit = self.rate_limit
        if "x-ratelimit-remaining" in headers:
            limit.limit = _int(headers.get("x-ratelimit-limit"))
            limit.remaining = _int(headers.get("x-ratelimit-remaining"))
            limit.used = _int(headers.get("x-ratelimit-used"))
            limit.reset = _number(headers.get("x-ratelimit-reset"))
            limit.resource = headers.get("x-ratelimit-resource")
        until = limit.blocked_until
        if response.status_code < 400 and until is not None and self._clock() >= until:
            limit.blocked_until, limit.reason = None, ""

    def _answer(
        self, url: str, accept: str, response: httpx.Response, moved_from: str | None
    ) -> Response:
        key = f"{accept} {url}"
        status = response.status_code
        if status == 304:
            cached = self._etags.get(key)
            if cached is None or cached.get("body") is None:
                raise GithubError(FailureKind.ERROR, f"{url}: 304 without a cached body")
            self.stats.not_modified += 1
            return Response(
                url, 304, str(cached["body"]).encode(), cached.get("next"), moved_to=None
            )
        if status == 200:
            next_url = _next_link(response.headers.get("link"))
            etag = response.headers.get("etag")
            if etag:
                body = response.content.decode("utf-8", "replace")
                self._etags[key] = {"etag": etag, "body": body, "next": next_url}
            return Response(url, 200, response.content, next_url, moved_from and url)
        raise _error(url, response)

    # --- the cache file ----------------------------------------------------------

    def _load(self) -> None:
        if self._cache_path is None:
            return
        try:
            data = json.loads(self._cache_path.read_bytes())
            self._etags = dict(data.get("etags") or {})
            self._moved = dict(data.get("moved") or {})
            self.rate_limit = RateLimit(**(data.get("rate_limit") or {}))
        except (OSError, ValueError, TypeError):
            self._etags, self._moved, self.rate_limit = {}, {}, RateLimit()


def _error(url: str, response: httpx.Response) -> GithubError:
    status = response.status_code
    said = _message(response.content)
    detail = f"{url}: HTTP {status}" + (f" ({said})" if said else "")
    if status in (401, 403):
        return GithubError(FailureKind.FORBIDDEN, detail, status)
    if status in (404, 410, 451):
        return GithubError(FailureKind.UNREACHABLE, detail, status)
    if status >= 500:
        return GithubError(FailureKind.UNREACHABLE, detail, status)
    return GithubError(FailureKind.ERROR, detail, status)


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    # It becomes the scope's failure and a finding: never with a NUL, which PostgreSQL
    # cannot store, or a lone surrogate, which UTF-8 cannot (the whole commit would fail).
    return show_unstorable(str(message)[:200]) if message else ""


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        match = _LINK_NEXT.search(part)
        if match:
            return match.group(1)
    return None


def _page_size(url: str) -> int:
    """The ``per_page`` a listing URL asks for (GitHub: 30 by default, at most 100)."""
    asked = parse_qs(urlsplit(url).query).get("per_page", ["30"])[-1]
    return min(int(asked), 100) if asked.isdigit() and int(asked) > 0 else 30


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return "unknown"
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
