"""The ``directory`` sink: one YAML file per entity in a local folder.

``sink`` writes the folder (:class:`DirectorySink`, :func:`write_directory`),
``config`` is its configuration model, ``plugin`` registers both (entry point
``directory`` in the ``trueup.sinks`` group).
"""

from trueup.sinks.directory.config import DirectorySinkConfig
from trueup.sinks.directory.sink import DirectoryReport, DirectorySink, write_directory

__all__ = ["DirectoryReport", "DirectorySink", "DirectorySinkConfig", "write_directory"]
