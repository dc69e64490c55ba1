"""The ``file`` source (SPEC 2, 4.1): a local folder of Backstage descriptor files.

``source`` reads the folder (:class:`FileSource`), ``config`` is its
configuration model, ``plugin`` registers both (entry point ``file`` in the
``trueup.sources`` group).
"""

from trueup.sources.file.config import FileSourceConfig
from trueup.sources.file.source import FileSource

__all__ = ["FileSource", "FileSourceConfig"]
