"""One repository commit's catalog, shared by the ``git`` and ``github`` sources.

``catalog`` reads the descriptor files of one commit (Location following,
placeholders from the same commit, per-file isolation) through two small
protocols each source implements (:class:`~.catalog.Tree`,
:class:`~.catalog.BlobReader`); ``cache`` remembers parse results by blob
between reads; ``tree_glob`` follows a glob Location target to the files of
the commit it matches; ``weblinks`` points entities back at their file on each
git host. Neither source reaches into the other: both build on this package and
on the git plumbing in :mod:`trueup.git`.
"""
