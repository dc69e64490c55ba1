"""The ``file`` source (SPEC 2, 4.1): a local folder of Backstage descriptor files.

``source`` reads the folder (:class:`FileSource`), ``config`` is its
configuration model, ``plugin`` registers both (entry point ``file`` in the
``trueup.sources`` group).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trueup.lazy import lazy_attributes

if TYPE_CHECKING:
    from trueup.sources.file.config import FileSourceConfig
    from trueup.sources.file.source import FileSource

__all__ = ["FileSource", "FileSourceConfig"]

# Imported on first use: loading the plugin entry point must not import the file source.
__getattr__ = lazy_attributes(
    __name__,
    {
        "FileSource": "trueup.sources.file.source",
        "FileSourceConfig": "trueup.sources.file.config",
    },
)
