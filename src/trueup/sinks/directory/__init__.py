"""The ``directory`` sink: one YAML file per entity in a local folder.

``sink`` writes the folder (:class:`DirectorySink`, :func:`write_directory`),
``files`` writes a full pass's files while the rows are read, ``config`` is its
configuration model, ``plugin`` registers both (entry point ``directory`` in
the ``trueup.sinks`` group).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trueup.lazy import lazy_attributes

if TYPE_CHECKING:
    from trueup.sinks.directory.config import DirectorySinkConfig
    from trueup.sinks.directory.sink import DirectoryReport, DirectorySink, write_directory

__all__ = ["DirectoryReport", "DirectorySink", "DirectorySinkConfig", "write_directory"]

# Imported on first use: loading the plugin entry point must not import the directory sink.
__getattr__ = lazy_attributes(
    __name__,
    {
        "DirectoryReport": "trueup.sinks.directory.sink",
        "DirectorySink": "trueup.sinks.directory.sink",
        "write_directory": "trueup.sinks.directory.sink",
        "DirectorySinkConfig": "trueup.sinks.directory.config",
    },
)
