"""Sinks: where assembled entities go, each a plugin of one shape (:mod:`.base`).

``publish`` is the gate every publisher reads through; ``directory`` writes a
folder of YAML files; ``git`` keeps a mirror repository (CI hydration, SPEC 6.2).
The Backstage feed itself is served from the store (:mod:`trueup.feed`).
"""
