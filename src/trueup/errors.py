"""Every exception trueup raises, in one place.

    TrueupError
    ├── ConfigError          bad configuration: fails fast, names the key (exit 1)
    ├── RefError             a string that is not a valid entity reference
    ├── SourceError          a scope could not be read completely (exit 2; nothing replaced)
    │   └── SourceUnavailable   transient: network, rate limit, server error
    └── StoreError           the database refused or lost a write

Bad *data* (an invalid catalog file, an unknown status value) never raises:
it becomes a finding. Exceptions from libraries underneath (PyYAML,
SQLAlchemy, httpx, the Kubernetes client) are translated where they enter and
chained with ``from``.
"""

from __future__ import annotations


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
