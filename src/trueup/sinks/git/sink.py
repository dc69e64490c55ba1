"""The ``git`` sink: hydrated entities committed into a separate mirror repository (SPEC 6.2).

Called by the pipeline after a commit (a ``git`` sink in the configuration)
and by ``trueup hydrate``. One write:

1. fetch the mirror branch into a bare clone in the sink's data folder (an
   absent branch is an empty mirror);
2. refuse a diverged mirror: when trueup's own files differ from trueup's last
   commit, someone else changed them, and they are reported, not overwritten;
3. stand back when the mirror head is a hydration of newer sources: later in
   a scope's history where its source can tell (git commits), else read later
   (a run of older sources never undoes a newer one, however late it runs);
4. plan the change (:mod:`~trueup.sinks.git.plan`); nothing to change, no commit;
5. commit it with a message naming what changed and why
   (:mod:`~trueup.sinks.git.message`) and push it, never forced. A push
   rejected because the mirror moved is retried from step 1 on the new head,
   ``push_attempts`` times at most.

Credentials in the URL never reach a command line, a message or the commit
(:mod:`trueup.git.remote`); the sink's name shows the URL with them masked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from trueup.config_model import VersionOrder
from trueup.errors import ConfigError, MirrorDivergedError, RepositoryError, SinkError
from trueup.git.mirror import MirrorClone, Signature
from trueup.git.remote import redact_url
from trueup.model.ref import EntityRef
from trueup.model.repository import repository_key
from trueup.sinks.base import Publication, ScopeVersion, SinkReport, SinkSetup
from trueup.sinks.git.config import GitSinkConfig
from trueup.sinks.git.message import LISTED, READ_AT, commit_message, read_hydration
from trueup.sinks.git.plan import MirrorPlan, RemovalRule, entity_path, is_managed, plan_mirror

log = logging.getLogger(__name__)
_MAX_FILE = 1 << 30  # entity files are a few kB; this only bounds a hand-made giant
_SOURCES_ANNOTATION = re.compile(r"^\s*trueup\.io/sources:\s*\"?([^\"\n]*)\"?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class MirrorState:
    """The mirror as fetched: its head (None: no branch yet) and its files."""

    head: str | None
    tree: Mapping[str, str]


class GitSink:
    """Keeps a mirror repository's branch equal to the published catalog; see the module doc."""

    def __init__(self, config: GitSinkConfig, setup: SinkSetup) -> None:
        self.config = config
        self.author = Signature.parse(config.author)
        self.max_ratio = setup.max_removal_ratio
        key = repository_key(config.url)
        for source in setup.sources:
            tracked = source.tracked_branch()
            if tracked is not None and tracked.key == key:
                raise ConfigError(
                    f"{self.name}: the mirror is the repository that source {source.id!r} "
                    "reads; hydrated entities go to a separate repository, never a source's"
                )
        root = setup.data_dir or Path(".trueup") / "sinks"
        slug = re.sub(r"[^A-Za-z0-9._@-]", "_", f"{key}@{config.branch}").strip("_")[-120:]
        self.clone = MirrorClone(
            config.url,
            root / "git" / f"{slug}.git",
            timeout=config.timeout.total_seconds(),
        )

    @property
    def name(self) -> str:
        return f"git sink {redact_url(self.config.url)}@{self.config.branch}"

    def plan(self, publication: Publication) -> MirrorPlan:
        """What a write would change now; nothing is committed."""
        with self.clone.locked(), self._translated():
            return self._plan(publication, self._fetch())

    def preview(self, publication: Publication) -> SinkReport:
        """:meth:`plan` as a report (``trueup hydrate --check``)."""
        plan = self.plan(publication)
        held = (
            f"; {len(plan.held)} removals would be held ({plan.hold_reason}): release them "
            "with --accept-removals once merged"
            if plan.held
            else ""
        )
        if plan.empty and not plan.held:
            return self._report(plan, f"up to date at {_short(plan.head)}")
        # Removals held are pending too: the mirror would keep entities its sources dropped.
        listed = [*plan.added, *plan.changed, *plan.removed, *plan.held][:5]
        what = ", ".join(str(ref) for ref in listed) or "all.yaml"
        note = f"out of date at {_short(plan.head)}: {what}{held}"
        return replace(self._report(plan, note), pending=True)

    def write(self, publication: Publication) -> SinkReport:
        """Commit and push what changed; SinkError (MirrorDivergedError) when it cannot."""
        with self.clone.locked(), self._translated():
            return self._write(publication)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """A git failure is this sink's failure, named after it (credentials masked)."""
        try:
            yield
        except RepositoryError as exc:
            raise SinkError(f"{self.name}: {exc}") from exc

    def _write(self, publication: Publication) -> SinkReport:
        branch = self.config.branch
        for attempt in range(1, self.config.push_attempts + 1):
            state = self._fetch()
            newer = self._newer_hydration(state.head, publication)
            if newer is not None:
                return self._report(MirrorPlan(state.head), newer)
            plan = self._plan(publication, state)
            if plan.empty:
                return self._report(plan, f"up to date at {_short(state.head)}")
            commit = self.clone.write_commit(
                branch=branch,
                parent=state.head,
                changes=plan.changes,
                message=self._message(plan, publication, state),
                author=self.author,
                when=publication.read_at,
            )
            if not self.config.push:
                return self._report(plan, f"commit {commit[:12]} made, not pushed")
            if self.clone.push(commit, branch):
                again = f" (attempt {attempt})" if attempt > 1 else ""
                return self._report(plan, f"commit {commit[:12]} pushed to {branch}{again}")
            log.info("%s: the mirror moved while pushing; re-applying on its new head", self.name)
        raise SinkError(
            f"{self.name}: the mirror moved {self.config.push_attempts} times while pushing; "
            "nothing was forced; run again"
        )

    # --- steps ---------------------------------------------------------------------

    def _fetch(self) -> MirrorState:
        head = self.clone.fetch_head(self.config.branch)
        tree = self.clone.list_files(head) if head is not None else {}
        self._refuse_diverged(head, tree)
        return MirrorState(head, tree)

    def _refuse_diverged(self, head: str | None, tree: Mapping[str, str]) -> None:
        """trueup's files at the head must be those of trueup's last commit."""
        if head is None:
            return
        last = self.clone.last_commit_with(head, f"{READ_AT}: ")
        if last is None:
            foreign = sorted(path for path in tree if is_managed(path))
        elif last == head:
            return
        else:
            foreign = sorted(p for p in self.clone.changed_paths(last, head) if is_managed(p))
        if foreign:
            since = f"since trueup's commit {last[:12]}" if last else "and trueup never wrote them"
            listed = ", ".join(foreign[:5]) + (
                f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
            )
            raise MirrorDivergedError(
                f"{self.name}: the mirror has diverged: {len(foreign)} of trueup's files were "
                f"changed by other commits {since} (head {head[:12]}): {listed}; nothing was "
                "overwritten: revert those commits, or move them out of trueup's paths"
            )

    def _newer_hydration(self, head: str | None, publication: Publication) -> str | None:
        """Why this run must not write over the head: it holds newer sources than this run.

        Where a source can order two versions of a scope (a git source: is one
        commit an ancestor of the other), history decides: a run whose read of a
        scope is older than the head's stands back, whenever it read; one newer
        in some scope and older in none writes. Otherwise the later read wins.
        """
        if head is None:
            return None
        found = read_hydration(self.clone.message(head))
        mine = {f"{v.source}/{v.scope}": v for v in publication.versions if v.version}
        if found is None or found.versions == frozenset(str(v) for v in mine.values()):
            return None
        theirs = dict(version.rpartition("@")[::2] for version in found.versions)
        newer = False
        for key, version in sorted(mine.items()):
            other = theirs.get(key)
            if other is None or other == version.version:
                continue
            order = publication.order(version, other)
            if order is VersionOrder.BEFORE:
                return (
                    f"the mirror holds newer sources: {key} {_short(other)} follows this "
                    f"hydration's {_short(version.version)} (commit {head[:12]}); "
                    "this one is not applied"
                )
            newer = newer or order is VersionOrder.AFTER
        if newer or found.read_at <= publication.read_at:
            return None
        return (
            f"the mirror holds a newer hydration (read at {found.read_at.isoformat()}, "
            f"commit {head[:12]}); this one (read at {publication.read_at.isoformat()}) "
            "is not applied"
        )

    def _plan(self, publication: Publication, state: MirrorState) -> MirrorPlan:
        return plan_mirror(
            publication.rows(),
            state.head,
            state.tree,
            lambda paths: self._read(state.tree, paths),
            location_name=self.config.location_name,
            removals=RemovalRule(
                max_ratio=self.max_ratio,
                accepted=publication.accept_removals,
                incomplete=publication.incomplete,
            ),
        )

    def _read(self, tree: Mapping[str, str], paths: Collection[str]) -> dict[str, bytes]:
        """The current content of mirror files (entity files are small: none is capped)."""
        found = self.clone.read_blobs({tree[p] for p in paths}, max_bytes=_MAX_FILE)
        contents = {path: found.get(tree[path]) for path in paths}
        return {path: data for path, data in contents.items() if isinstance(data, bytes)}

    def _message(self, plan: MirrorPlan, publication: Publication, state: MirrorState) -> str:
        shown = {*plan.added[:LISTED], *plan.changed[:LISTED]}
        causes = {ref: _versions(publication, publication.contributors(ref)) for ref in shown}
        paths = {entity_path(ref): ref for ref in plan.removed[:LISTED]}
        old = self._read(state.tree, [p for p in paths if p in state.tree])
        removed_causes: dict[EntityRef, list[ScopeVersion]] = {}
        for path, content in old.items():
            match = _SOURCES_ANNOTATION.search(content.decode("utf-8", "replace"))
            ids = {s.strip() for s in match.group(1).split(",")} if match else set()
            removed_causes[paths[path]] = [v for v in publication.versions if v.source in ids]
        return commit_message(
            plan,
            publication.versions,
            publication.read_at,
            lambda ref: causes.get(ref, ()),
            removed_causes,
        )

    def _report(self, plan: MirrorPlan, note: str) -> SinkReport:
        return SinkReport(
            sink=self.name,
            written=len(plan.added) + len(plan.changed),
            unchanged=plan.unchanged,
            removed=len(plan.removed),
            held=len(plan.held),
            note=note,
        )


def _versions(publication: Publication, keys: Sequence[str]) -> list[ScopeVersion]:
    return [v for key in keys if (v := publication.version_of(key)) is not None and v.version]


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "an empty mirror"
