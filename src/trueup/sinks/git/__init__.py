"""The ``git`` sink (SPEC 6.2): CI hydration into a separate mirror repository.

``plan`` decides what changes (layout, the ``all.yaml`` Location, held
removals), ``message`` writes and reads back the commit messages, ``sink``
fetches, commits and pushes (:class:`GitSink`), ``config`` is its
configuration model and ``plugin`` registers it (entry point ``git`` in the
``trueup.sinks`` group). The git plumbing itself is :mod:`trueup.git`.
"""

from trueup.sinks.git.config import GitSinkConfig
from trueup.sinks.git.sink import GitSink

__all__ = ["GitSink", "GitSinkConfig"]
