"""After a sync's commit: what its sinks may publish, and writing them.

:func:`publication` is what the sinks see of the store once a run committed (its
rows, the scopes' versions, what failed); :func:`write_sinks` writes each sink, a
failing one reported in the run's outcome while the commit stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trueup.backstage_config import emission_policy
from trueup.config import Config
from trueup.errors import SinkError
from trueup.model.ref import EntityRef
from trueup.sinks.base import Publication, ScopeVersion, Sink
from trueup.store import Store

if TYPE_CHECKING:
    from trueup.pipeline import SyncOutcome


def publication(
    config: Config,
    store: Store,
    outcome: SyncOutcome,
    read_at: datetime,
    *,
    accept_removals: bool = False,
    data_dir: Path | None = None,
) -> Publication:
    """What the sinks may publish after ``outcome``'s commit."""
    health = store.scopes()
    read = [h for h in health if h.read_at is not None]
    readable = {(h.source, h.scope) for h in read}
    # This run's commit number: the generation, unless a later commit landed (then unknown).
    landed, last = store.generation(), store.last_commit()
    return Publication(
        store.feed_rows,
        emission=emission_policy(config.backstage),
        read_at=read_at,
        run_id=outcome.run_id,
        commit_number=landed if last is not None and last.id == outcome.run_id else None,
        versions=[
            ScopeVersion(h.source, h.scope, h.version or "", t) for h in read if (t := h.read_at)
        ],
        contributors=lambda ref: _contributors(store, ref),
        incomplete=[
            f"{f.source}/{f.scope}" for f in outcome.failures if (f.source, f.scope) not in readable
        ],
        revised=None if outcome.revised is None else frozenset(outcome.revised),
        rows_of=lambda refs: store.feed_rows(refs=refs),
        accept_removals=accept_removals,
        order=lambda v, other: config.order_versions(v.source, v.scope, v.version, other, data_dir),
    )


def write_sinks(sinks: Sequence[Sink], publication: Publication, outcome: SyncOutcome) -> None:
    """Write every sink; one that fails is reported in ``outcome``, the commit stands."""
    for sink in sinks:
        try:
            with outcome.timings.writing(sink.name):
                outcome.sinks.append(sink.write(publication))
        except SinkError as exc:
            outcome.sink_errors.append(f"{sink.name}: {exc}")
        except OSError as exc:
            outcome.sink_errors.append(f"{sink.name}: {exc.strerror or exc}")
    outcome.held_back = publication.held_back


def _contributors(store: Store, ref: EntityRef) -> tuple[str, ...]:
    """The ``source/scope`` of everything an entity's stored state came from."""
    stored = store.entity(ref)
    if stored is None:
        return ()
    entity = stored.assembled
    provenances = [origin.winner.provenance for origin in entity.origins.values()]
    provenances += [place.provenance for place in entity.places]
    return tuple(sorted({f"{p.source}/{p.scope}" for p in provenances}))
