"""The ``trueup`` executable's first steps, before the command line is imported.

Importing the command line creates some hundred thousand objects (SQLAlchemy,
pydantic, trueup's own modules) and no garbage: the cyclic collector would
scan them again and again while they load, a tenth of the start-up time. It is
switched off while they load, and what they created is frozen out of every
later collection (``gc.freeze``), so a run's collections scan only what the
run allocates.
"""

from __future__ import annotations

import gc


def entry() -> None:
    gc.disable()
    try:
        from trueup.cli import entry as run
    finally:
        gc.freeze()
        gc.enable()
    run()


__all__ = ["entry"]
