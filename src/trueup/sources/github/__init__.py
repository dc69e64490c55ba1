"""The ``github`` source (SPEC 4.1): catalog files across a GitHub organisation.

:class:`GithubSource` is the source, :class:`GithubClient` its polite REST
client (conditional requests, pagination, rate limits, redirects).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trueup.lazy import lazy_attributes

if TYPE_CHECKING:
    from trueup.errors import GithubError, RateLimitedError
    from trueup.sources.github.client import GithubClient, RateLimit
    from trueup.sources.github.source import GithubSource

__all__ = ["GithubClient", "GithubError", "GithubSource", "RateLimit", "RateLimitedError"]

# Imported on first use: loading the plugin entry point must not import the github source.
__getattr__ = lazy_attributes(
    __name__,
    {
        "GithubClient": "trueup.sources.github.client",
        "RateLimit": "trueup.sources.github.client",
        "GithubSource": "trueup.sources.github.source",
        "GithubError": "trueup.errors",
        "RateLimitedError": "trueup.errors",
    },
)
