"""The ``git`` sink (SPEC 6.2): CI hydration into a separate mirror repository.

``plan`` decides what changes (layout, the ``all.yaml`` Location, held
removals), ``message`` writes and reads back the commit messages, ``sink``
fetches, commits and pushes (:class:`GitSink`), ``config`` is its
configuration model and ``plugin`` registers it (entry point ``git`` in the
``trueup.sinks`` group). The git plumbing itself is :mod:`trueup.git`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trueup.lazy import lazy_attributes

if TYPE_CHECKING:
    from trueup.sinks.git.config import GitSinkConfig
    from trueup.sinks.git.sink import GitSink

__all__ = ["GitSink", "GitSinkConfig"]

# Imported on first use: loading the plugin entry point must not import the git sink.
__getattr__ = lazy_attributes(
    __name__,
    {
        "GitSink": "trueup.sinks.git.sink",
        "GitSinkConfig": "trueup.sinks.git.config",
    },
)
