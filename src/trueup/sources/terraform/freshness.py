"""How long the observations of a state read again unchanged keep their time.

Called by :class:`~trueup.sources.terraform.source.TerraformSource` for every
state it accepted, with the stored snapshot of the scope when the state has the
lineage read before. A state is what Terraform knows
*now*, so a read that succeeds confirms its observations; but a read that gave
them its own time on every sync would rewrite every entity of the state (its
``trueup.io/observed-at``, its feed texts, its freshness schedule) on every sync
while nothing changed. So a read whose observations are the stored ones, their
time aside, keeps them (``kept={""}``: no write, no assembly) as long as their
time is younger than half the source's ``max_age``; the first read after that
renews them with its own time (a document rewrite, no revision). Hence:

- a state read at least every ``max_age / 2`` is never shown stale;
- a state that can no longer be read turns stale ``max_age`` after the time of
  its observations: never later than ``max_age`` after its last successful
  read, never sooner than ``max_age / 2`` after it;
- without a ``max_age`` (nothing turns stale) the time is never renewed: it
  stays the time the state's content was first read.

The read's one part ``""`` carries the fingerprint ``content <digest> at
<time>``: the digest of its observations without their times
(:func:`~trueup.model.observation.kept_when_unchanged`), and the time they were
given, so a read tells whether it may keep the stored ones without loading them.
An instance kept for a NUL or a lone surrogate keeps its own, older time
(:mod:`~trueup.sources.terraform.mapping`): it is not renewed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from trueup.model.observation import Snapshot, kept_when_unchanged

WHOLE = ""  # the part of a scope whose observations have no part of their own
_AT = " at "


def kept_while_current(
    read: Snapshot, previous: Snapshot | None, max_age: timedelta | None
) -> Snapshot:
    """``read``, keeping the stored observations if they are its own and still current.

    ``previous`` is the stored snapshot of the same state (lineage), or None.
    The observations of ``read`` carry its time (``read.read_at``).
    """
    content = kept_when_unchanged(read, None).parts[WHOLE]
    if previous is not None and previous.stored is not None:
        stored = previous.parts.get(WHOLE, "")
        given = _given_at(stored, content)
        if given is not None and _current(read.read_at - given, max_age):
            return replace(read, observations=(), parts={WHOLE: stored}, kept=frozenset({WHOLE}))
    return replace(read, parts={WHOLE: f"{content}{_AT}{read.read_at.isoformat()}"})


def _given_at(fingerprint: str, content: str) -> datetime | None:
    """The time of stored observations with ``content`` (None: other content, or held)."""
    stored, _, at = fingerprint.partition(_AT)
    if stored != content or not at:
        return None
    try:
        return datetime.fromisoformat(at)
    except ValueError:
        return None


def _current(age: timedelta, max_age: timedelta | None) -> bool:
    """Whether observations this old are kept as they are (one dated ahead is renewed)."""
    return max_age is None or timedelta(0) <= age < max_age / 2
