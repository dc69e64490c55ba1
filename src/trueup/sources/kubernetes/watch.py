"""The long-running mode (``trueup serve``): list → watch → relist per resource type.

:class:`ClusterWatcher` keeps one cluster (one scope) current and calls
``on_change(scope, read)`` with a fresh *complete* Snapshot of the scope after
each batch of changes (or a ScopeFailure when the whole cluster is lost). The
server feeds those to the pipeline. Per resource type, one reflector thread
(none of the Python clients is a full informer; anchors-reliability 3.6):

- lists the type as one consistent snapshot (:mod:`~trueup.sources.kubernetes.pager`),
  then watches from the list's resourceVersion with bookmarks and a
  ``timeoutSeconds`` drawn from [T, 2T]; each event and bookmark advances the
  resourceVersion it resumes from;
- a normal end of stream, a silent stream (no bytes before the client-side
  idle deadline) or a broken connection → re-watch from the last
  resourceVersion, without relisting (connection trouble backs off 0.8 s → 30 s);
  a stream the server ended at once (within :data:`SHORT_WATCH`, no event: a
  server shedding load) is re-watched only after a wait, as client-go's
  reflector does: 0.5 s doubling to 30 s in fixed steps (:func:`rewatch_delay`),
  back to 0.5 s once a watch brought an event or lasted;
- 410 ``Expired`` (an ERROR event, or the HTTP answer) → relist from scratch, at
  once (the normal path after a compaction); so does a 504 "Too large resource
  version" (the store went back, e.g. an etcd restore), after its ``Retry-After``
  (else backoff). A relist again with no good watch between waits as a re-watch
  does (:func:`relist_delay`), or no less than the ``Retry-After``; else a
  server expiring every watch gets a full LIST in a tight loop. Objects that
  vanished in the gap are dropped and recorded as :class:`Tombstone` values;
  then watch from the new list's resourceVersion;
- 429 → wait its ``Retry-After`` (else back off) and re-watch *without
  relisting*; while a type's watch cannot run (429, 5xx, an ERROR event) its
  objects are not re-stamped, so they age into stale;
- 403/404 → the type is *no access*/*not installed*: its last known objects
  stay (they age into stale), a finding says why, and it is retried with backoff.

The applier (the thread that calls :meth:`ClusterWatcher.run`) owns the cache:
reflectors only put messages on a queue. Observations of a type whose watch is
healthy are re-stamped every ``refresh`` so they do not turn stale; those of a
broken type keep their last time and do, as does the last good observation
an object keeps while its new ones are refused for a NUL character or a lone surrogate
(:mod:`~trueup.sources.kubernetes.refused`). Every ``rediscover`` the watcher
runs discovery again (new XRDs, CRDs) and restarts its reflectors if the set
of types changed. Each object is a part of the scope (``Observation.part``), so
the source can tell the engine which objects are as stored
(:meth:`~trueup.sources.kubernetes.watch_source.KubernetesWatchSource.observe`).
``now``, ``wait`` and ``rng`` are injected for tests.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from trueup.errors import KubeApiError, KubeIdleError, KubeUnreachableError, ListFailedError
from trueup.model.observation import (
    FailureKind,
    Observation,
    ScopeFailure,
    ScopeRead,
    Snapshot,
    unstorable_field,
)
from trueup.sources.kubernetes.kubeconfig import ClusterIdentity
from trueup.sources.kubernetes.objects import as_map, as_text
from trueup.sources.kubernetes.pager import BACKOFF_INITIAL, BACKOFF_MAX, Listing, Pager
from trueup.sources.kubernetes.reading import build_snapshot, observe_item
from trueup.sources.kubernetes.resources import Discovery, ResourceType, TypeFailure
from trueup.sources.kubernetes.transport import ApiTransport, WatchStream
from trueup.sources.kubernetes.watch_model import (
    SHORT_WATCH,
    Connected,
    Event,
    Failed,
    Listed,
    Lost,
    Message,
    ObjectKey,
    Tombstone,
    TypeState,
    WatchSettings,
    WatchStats,
    object_key,
    relist_delay,
    rewatch_delay,
)

log = logging.getLogger(__name__)

OnChange = Callable[[str, ScopeRead], None]
Wait = Callable[[threading.Event, float], None]
TOO_LARGE = "too large resourceVersion"
EXPIRED = "expired resourceVersion"
RELIST = "relist"  # a good watch expired: relist at once
CLOSED_AT_ONCE = "watch closed at once"

__all__ = [
    "ClusterWatcher",
    "OnChange",
    "Tombstone",
    "Wait",
    "WatchSettings",
    "WatchStats",
    "relist_delay",
    "rewatch_delay",
    "utc_now",
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _wait(event: threading.Event, seconds: float) -> None:
    event.wait(seconds)


class ClusterWatcher:
    """Keeps one cluster's snapshot current; see the module docstring."""

    def __init__(
        self,
        *,
        source: str,
        identity: ClusterIdentity,
        transport: ApiTransport,
        pager: Pager,
        discover: Callable[[], Discovery],
        settings: WatchSettings | None = None,
        previous: Snapshot | None = None,
        now: Callable[[], datetime] = utc_now,
        wait: Wait = _wait,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.identity = identity
        self.transport = transport
        self.pager = pager
        self.discover = discover
        self.settings = settings or WatchSettings()
        self.previous = previous
        self.now = now
        self.wait = wait
        self.rng = rng
        self.stats = WatchStats()
        self.tombstones: list[Tombstone] = []
        self._queue: queue.Queue[Message] = queue.Queue()
        self._states: dict[ResourceType, TypeState] = {}
        self._discovery_failures: list[TypeFailure] = []
        self._halt = threading.Event()
        self._threads: list[threading.Thread] = []
        self._streams: set[WatchStream] = set()
        self._lock = threading.Lock()
        self._lost_emitted = False

    @property
    def scope(self) -> str:
        return self.identity.context

    # --- the applier ---------------------------------------------------------------

    def run(self, on_change: OnChange, stop: threading.Event) -> None:
        """Watch until ``stop`` is set; calls ``on_change`` from this thread."""
        try:
            discovery = self._first_discovery(on_change, stop)
            if discovery is None:
                return
            self._start(discovery)
            last_discovery = time.monotonic()
            while not stop.is_set():
                changed = self._apply_batch(stop)
                if time.monotonic() - last_discovery >= self.settings.rediscover:
                    last_discovery = time.monotonic()
                    changed |= self._rediscover()
                self._emit(on_change, changed)
        finally:
            self._stop_reflectors()

    def _first_discovery(self, on_change: OnChange, stop: threading.Event) -> Discovery | None:
        attempt = 0
        while not stop.is_set():
            try:
                return self.discover()
            except (KubeUnreachableError, KubeApiError) as exc:
                kind = FailureKind.UNREACHABLE
                if isinstance(exc, KubeApiError):
                    kind = FailureKind.FORBIDDEN if exc.status == 401 else FailureKind.ERROR
                on_change(
                    self.scope, ScopeFailure(self.source, self.scope, kind, str(exc), self.now())
                )
                self._pause(stop, "discovery", self._backoff(attempt))
                attempt += 1
        return None

    def _pause(self, event: threading.Event, reason: str, seconds: float) -> None:
        self.stats.waits.append((reason, seconds))
        self.wait(event, seconds)

    def _backoff(self, attempt: int) -> float:
        # 2.0**1024 overflows: after 8½ hours of failures it would end the thread
        base: float = min(BACKOFF_MAX, BACKOFF_INITIAL * 2.0 ** min(attempt, 16))
        return min(BACKOFF_MAX, base * (1 + self.rng()))

    def _apply_batch(self, stop: threading.Event) -> bool:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return False
        batch = [first]
        deadline = time.monotonic() + self.settings.batch_window
        while not stop.is_set():
            try:
                batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        changed = False
        for message in batch:
            changed |= self._apply(message)
        return changed

    def _apply(self, message: Message) -> bool:
        state = self._states.get(message.rtype)
        if state is None:
            return False  # a reflector of a previous discovery
        if isinstance(message, Listed):
            return self._replace(message.rtype, state, message.listing)
        if isinstance(message, Event):
            return self._event(message.rtype, state, message.type, message.obj)
        if isinstance(message, Failed):
            changed = state.failure != message.failure
            state.failure = message.failure
            state.connected = True
            return changed
        if isinstance(message, Lost):
            changed = state.connected
            state.connected = False
            return changed
        changed = not state.connected or self._lost_emitted
        state.connected = True
        return changed

    def _replace(self, rtype: ResourceType, state: TypeState, listing: Listing) -> bool:
        now = self.now()
        fresh: dict[ObjectKey, Observation] = {}
        versions: dict[ObjectKey, str] = {}
        for item in listing.items:
            key = object_key(item)
            versions[key] = as_text(as_map(item.get("metadata")).get("resourceVersion"))
            seen = observe_item(rtype, item, source=self.source, scope=self.scope, observed_at=now)
            if seen is not None:
                fresh[key] = replace(seen, part=_part(rtype, key))
                _hold(state, key, fresh[key])
        state.held = {key: o for key, o in state.held.items() if key in fresh}
        if state.listed:
            for key in state.versions.keys() - versions.keys():
                self.tombstones.append(
                    Tombstone(rtype.kind, key[0], key[1], state.versions[key], now)
                )
        state.observations, state.versions = fresh, versions
        state.listed, state.connected, state.failure = True, True, None
        state.stamped, state.list_version = now, listing.resource_version
        self.stats.lists += 1
        return True

    def _event(
        self, rtype: ResourceType, state: TypeState, kind: str, obj: dict[str, object]
    ) -> bool:
        now = self.now()
        key = object_key(obj)
        self.stats.events += 1
        self.stats.last_event_at = now
        if kind == "DELETED":
            state.versions.pop(key, None)
            state.held.pop(key, None)
            return state.observations.pop(key, None) is not None
        state.versions[key] = as_text(as_map(obj.get("metadata")).get("resourceVersion"))
        seen = observe_item(rtype, obj, source=self.source, scope=self.scope, observed_at=now)
        if seen is not None:
            seen = replace(seen, part=_part(rtype, key))
            _hold(state, key, seen)
        else:
            state.held.pop(key, None)
        before = state.observations.pop(key, None)
        if seen is not None:
            state.observations[key] = seen
        return seen is not None or before is not None

    def _emit(self, on_change: OnChange, changed: bool) -> None:
        if not self._states or not all(s.listed or s.failure for s in self._states.values()):
            return  # the first complete picture is not there yet
        if not any(s.connected for s in self._states.values()):
            if not self._lost_emitted:
                self._lost_emitted = True
                message = f"{self.identity.server}: every watch lost its connection"
                on_change(
                    self.scope,
                    ScopeFailure(
                        self.source, self.scope, FailureKind.UNREACHABLE, message, self.now()
                    ),
                )
            return
        now = self.now()
        for state in self._states.values():
            stale = (
                state.stamped is None
                or (now - state.stamped).total_seconds() >= self.settings.refresh
            )
            if state.listed and state.connected and state.failure is None and stale:
                state.observations = {k: _stamped(o, now) for k, o in state.observations.items()}
                state.stamped = now
                changed = True
        if not changed and not self._lost_emitted:
            return
        self._lost_emitted = False
        on_change(self.scope, self.snapshot())
        self.stats.emitted += 1

    def snapshot(self) -> Snapshot:
        """The scope as known now (call from the applier thread, or once it stopped)."""
        observations: list[Observation] = []
        failures = list(self._discovery_failures)
        unlisted: list[TypeFailure] = []
        read_kinds: set[str] = set()
        held: list[Observation] = []
        for rtype, state in self._states.items():
            observations.extend(state.observations.values())
            held.extend(state.held.values())
            if state.listed:
                read_kinds.add(rtype.locator_kind)
            if state.failure is not None:
                failures.append(state.failure)
                if not state.listed:
                    unlisted.append(state.failure)
        # A type a rediscovery lost keeps its state (its last known objects): only kinds
        # this watcher never listed come from the previous snapshot.
        unlisted += [
            f for f in self._discovery_failures if not f.kinds or not set(f.kinds) <= read_kinds
        ]
        return build_snapshot(
            source=self.source,
            identity=self.identity,
            read_at=self.now(),
            observations=observations,
            read_kinds=frozenset(read_kinds),
            failures=failures,
            previous=self.previous,
            versions=[s.list_version for s in self._states.values()],
            carry=unlisted,
            last_good=held,
        )

    # --- reflectors ----------------------------------------------------------------

    def _start(self, discovery: Discovery) -> None:
        self._halt = threading.Event()
        self._discovery_failures = list(discovery.failures)
        for rtype in discovery.types:
            self._states.setdefault(rtype, TypeState())
            thread = threading.Thread(
                target=self._reflect,
                args=(rtype, self._halt),
                name=f"watch {self.scope} {rtype.name}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def _stop_reflectors(self) -> None:
        self._halt.set()
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.shutdown()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []

    def _rediscover(self) -> bool:
        try:
            discovery = self.discover()
        except (KubeUnreachableError, KubeApiError) as exc:
            log.warning("kubernetes %s/%s: rediscovery failed: %s", self.source, self.scope, exc)
            return False
        if (
            set(discovery.types) == set(self._states)
            and discovery.failures == self._discovery_failures
        ):
            return False
        self._stop_reflectors()
        gone = FailureKind.NOT_INSTALLED
        for rtype in set(self._states) - set(discovery.types):
            self._states[rtype].failure = rtype.failed(gone, "no longer served")
        kept = {t: s for t, s in self._states.items() if t not in discovery.types}
        self._states = {**kept, **{t: self._states.get(t, TypeState()) for t in discovery.types}}
        self._start(discovery)
        return True

    def _watch_params(
        self, rtype: ResourceType, version: str
    ) -> tuple[list[tuple[str, str]], float]:
        timeout = self.settings.watch_timeout * (1 + self.rng())
        params = [
            ("watch", "true"),
            ("resourceVersion", version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(max(1, int(timeout)))),
        ]
        if rtype.selector:
            params.append(("labelSelector", rtype.selector))
        idle = self.settings.idle_timeout
        return params, idle if idle is not None else timeout + 30.0

    def _reflect(self, rtype: ResourceType, halt: threading.Event) -> None:
        version: str | None = None
        attempt = 0
        closed = 0  # watches in a row the server ended at once
        expired = 0  # relists in a row for a 410 or a too large version, no good watch between
        put = self._queue.put
        while not halt.is_set():
            if version is None:
                try:
                    listing = self.pager.list_all(rtype.path(), selector=rtype.selector)
                except ListFailedError as exc:
                    put(
                        Failed(
                            rtype,
                            rtype.failed(exc.kind, exc.message),
                        )
                    )
                    self._pause(halt, "list failed", self._backoff(attempt))
                    attempt += 1
                    continue
                except (KubeUnreachableError, KubeApiError) as exc:
                    put(Lost(rtype, FailureKind.UNREACHABLE, str(exc)))
                    self._pause(halt, "unreachable", self._backoff(attempt))
                    attempt += 1
                    continue
                put(Listed(rtype, listing))
                version = listing.resource_version
            outcome = self._watch_once(rtype, version, halt)
            if isinstance(outcome, str):  # a good watch: resume, or relist at once
                version = None if outcome == RELIST else outcome
                attempt = closed = 0
                expired = 1 if outcome == RELIST else 0
            elif outcome[0] == CLOSED_AT_ONCE:
                version = outcome[2]
                self._pause(halt, CLOSED_AT_ONCE, rewatch_delay(closed))
                closed += 1
            elif outcome[0] in (EXPIRED, TOO_LARGE):  # relist, no good watch since the last
                reason, seconds, version = outcome
                first = seconds if seconds is not None else self._backoff(attempt)
                if delay := relist_delay(expired, first):
                    self._pause(halt, reason, delay)
                attempt += 1
                expired += 1
            else:
                reason, seconds, new_version = outcome
                version = new_version
                self._pause(
                    halt, reason, seconds if seconds is not None else self._backoff(attempt)
                )
                attempt += 1

    def _watch_once(
        self, rtype: ResourceType, version: str, halt: threading.Event
    ) -> str | tuple[str, float | None, str | None]:
        """One watch: a version to resume from, RELIST, or (why, wait, version; None: relist)."""
        params, idle = self._watch_params(rtype, version)
        opened = time.monotonic()
        try:
            stream = self.transport.watch(rtype.path(), params, idle)
        except KubeApiError as exc:
            if exc.status == 410:
                self.stats.expired += 1
                return (EXPIRED, 0.0, None)  # relist, at once unless it keeps expiring
            if _too_large(exc.status, exc.message):
                self.stats.expired += 1
                return (TOO_LARGE, exc.retry_after, None)  # relist, after its Retry-After
            if exc.status in (403, 404):
                self._queue.put(Failed(rtype, rtype.refused(exc)))
                return ("watch refused", None, None)
            # no watch, no news: the type's objects are not re-stamped until one runs again
            lost = {401: FailureKind.FORBIDDEN, 429: FailureKind.RATE_LIMITED}
            self._queue.put(Lost(rtype, lost.get(exc.status, FailureKind.ERROR), str(exc)))
            if exc.status == 429:
                return ("429 Retry-After", exc.retry_after, version)  # back off, do not relist
            return (f"watch answered {exc.status}", None, version)
        except KubeUnreachableError as exc:
            self._queue.put(Lost(rtype, FailureKind.UNREACHABLE, str(exc)))
            return ("unreachable", None, version)
        self.stats.watches += 1
        self._queue.put(Connected(rtype))
        with self._lock:
            self._streams.add(stream)
        try:
            if halt.is_set():
                return version
            return self._read_stream(rtype, stream, version, opened)
        except KubeIdleError:
            self.stats.idle += 1
            log.info(
                "kubernetes %s/%s: %s watch silent; re-watching",
                self.source,
                self.scope,
                rtype.name,
            )
            return version
        except KubeUnreachableError as exc:
            if halt.is_set():
                return version
            self._queue.put(Lost(rtype, FailureKind.UNREACHABLE, str(exc)))
            return ("stream broken", None, version)
        finally:
            with self._lock:
                self._streams.discard(stream)
            stream.close()

    def _read_stream(
        self, rtype: ResourceType, stream: WatchStream, version: str, opened: float
    ) -> str | tuple[str, float | None, str | None]:
        delivered = False
        for line in stream.lines():
            try:
                event = json.loads(line)
            except ValueError:
                self._queue.put(Lost(rtype, FailureKind.ERROR, "a watch event is not JSON"))
                return ("garbled event", None, version)
            kind = as_text(as_map(event).get("type"))
            obj = as_map(as_map(event).get("object"))
            if kind == "ERROR":
                if obj.get("code") == 410:
                    self.stats.expired += 1
                    if delivered or time.monotonic() - opened >= SHORT_WATCH:
                        return RELIST
                    return (EXPIRED, 0.0, None)
                if _too_large(obj.get("code"), obj.get("message")):
                    self.stats.expired += 1
                    wait = as_map(obj.get("details")).get("retryAfterSeconds")
                    return (TOO_LARGE, float(wait) if isinstance(wait, int) else None, None)
                said = f"watch error {obj.get('code')!r}"  # as data: never a NUL
                self._queue.put(Lost(rtype, FailureKind.ERROR, said))
                return (said, None, version)
            new_version = as_text(as_map(obj.get("metadata")).get("resourceVersion"))
            if kind == "BOOKMARK":
                self.stats.bookmarks += 1
            elif kind in ("ADDED", "MODIFIED", "DELETED"):
                self._queue.put(Event(rtype, kind, dict(obj)))
                delivered = True
            version = new_version or version
        if not delivered and time.monotonic() - opened < SHORT_WATCH:
            return (CLOSED_AT_ONCE, None, version)  # re-watched after rewatch_delay()
        return version


def _too_large(code: object, message: object) -> bool:
    """A 504 "Too large resource version": the server has not reached (or lost) our version.

    kube-apiserver answers so when the store went back in time (an etcd restore);
    waiting does not help, so like a 410 it means relist (client-go's reflector does).
    """
    return code == 504 and "Too large resource version" in as_text(message)


def _part(rtype: ResourceType, key: ObjectKey) -> str:
    """The part of the scope one object is: its observation is replaced on its own."""
    return f"{rtype.api_version}/{rtype.kind}/{key[0]}/{key[1]}"


def _hold(state: TypeState, key: ObjectKey, seen: Observation) -> None:
    """Before ``seen`` replaces its object's observation: hold the last good one if refused."""
    if unstorable_field(seen) is None:
        state.held.pop(key, None)
        return
    before = state.observations.get(key)
    if before is not None and unstorable_field(before) is None:
        state.held[key] = before


def _stamped(observation: Observation, at: datetime) -> Observation:
    return replace(observation, provenance=replace(observation.provenance, observed_at=at))
