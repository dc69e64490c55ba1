"""Test doubles of other systems' APIs, shipped with trueup but not part of the product.

Each speaks the real protocol of a system that cannot run here (a
kube-apiserver), so that trueup's connectors are exercised through their real
client libraries: by ``trueup demo --live``, the tests and the benchmarks. The
product's own packages never import from here (checked by import-linter).
"""
