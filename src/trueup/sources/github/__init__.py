"""The ``github`` source (SPEC 4.1): catalog files across a GitHub organisation.

:class:`GithubSource` is the source, :class:`GithubClient` its polite REST
client (conditional requests, pagination, rate limits, redirects).
"""

from trueup.errors import GithubError, RateLimitedError
from trueup.sources.github.client import GithubClient, RateLimit
from trueup.sources.github.source import GithubSource

__all__ = ["GithubClient", "GithubError", "GithubSource", "RateLimit", "RateLimitedError"]
