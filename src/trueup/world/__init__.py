"""Generators of realistic worlds: catalog repositories, cluster exports, states, a config.

Deterministic for a given seed and clock. ``write_demo_world`` is the small
embedded demo (``trueup demo``, end-to-end tests; :mod:`trueup.world.live`
serves its clusters from loopback API servers for ``trueup demo --live``);
``write_scaled_world`` and ``touch_one_file`` build the large synthetic worlds
of the benchmarks (``bench/world_gen.py``). Both return a frozen description of
what they wrote, so callers assert against facts rather than hard-coded names.
"""

from __future__ import annotations

from trueup.world.demo import DemoWorld, write_demo_world
from trueup.world.scaled import ScaledWorld, TouchedFile, touch_one_file, write_scaled_world

__all__ = [
    "DemoWorld",
    "ScaledWorld",
    "TouchedFile",
    "touch_one_file",
    "write_demo_world",
    "write_scaled_world",
]
