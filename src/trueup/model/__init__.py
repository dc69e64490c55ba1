"""Pure data: entity references, observations, snapshots, findings.

Nothing here does I/O. Every other package builds on these types.
"""
