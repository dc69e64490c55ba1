"""The watcher's vocabulary (:mod:`~trueup.sources.kubernetes.watch`).

Its settings and counters, how long it waits before a watch or a relist the
server keeps ending, the tombstones a relist leaves, the messages its reflector
threads put on the applier's queue, and what the applier keeps of each
resource type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from trueup.model.observation import FailureKind, Observation
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.objects import as_map, as_text
from trueup.sources.kubernetes.pager import Listing
from trueup.sources.kubernetes.resources import ResourceType, TypeFailure

ObjectKey = tuple[str, str]
SHORT_WATCH = 1.0  # seconds: a watch ended sooner with no event was closed at once
REWATCH_FIRST = 0.5
REWATCH_MAX = 30.0


@dataclass(frozen=True)
class WatchSettings:
    watch_timeout: float = 300.0
    idle_timeout: float | None = None  # default: the drawn timeoutSeconds + 30 s
    refresh: float = 60.0
    rediscover: float = 300.0
    batch_window: float = 0.01

    @classmethod
    def of(cls, config: KubernetesSourceConfig) -> WatchSettings:
        idle = config.watch_idle_timeout
        return cls(
            watch_timeout=config.watch_timeout.total_seconds(),
            idle_timeout=idle.total_seconds() if idle is not None else None,
            refresh=config.watch_refresh.total_seconds(),
            rediscover=config.rediscover_interval.total_seconds(),
        )


def rewatch_delay(closed: int) -> float:
    """The wait before a watch after ``closed`` watches in a row the server ended at once.

    Fixed steps, no jitter: a server that ends every watch at once is not a
    crowd of clients retrying together, and each type waits on its own.
    """
    return min(REWATCH_MAX, REWATCH_FIRST * 2.0 ** min(closed, 16))


def relist_delay(expired: int, first: float) -> float:
    """The wait before a relist after ``expired`` relists in a row for an expired version.

    ``first`` is what the server asked for (a 504's Retry-After, 0 for a 410): the
    first relist is the normal path after a compaction. Those that follow with
    no good watch between (none brought an event or lasted) wait as watches
    closed at once do, as client-go's reflector backs off its relists, lest a
    server expiring every watch get a full LIST in a tight loop.
    """
    return first if expired == 0 else max(first, rewatch_delay(expired - 1))


@dataclass(frozen=True)
class Tombstone:
    """An object found deleted by a relist: its watch event was lost in a 410 gap."""

    kind: str
    namespace: str
    name: str
    resource_version: str
    at: datetime


@dataclass
class WatchStats:
    """Counters and times for metrics and tests."""

    lists: int = 0
    watches: int = 0
    events: int = 0
    bookmarks: int = 0
    expired: int = 0
    idle: int = 0
    emitted: int = 0
    last_event_at: datetime | None = None
    waits: list[tuple[str, float]] = field(default_factory=list)


# --- messages from the reflectors to the applier -------------------------------------


@dataclass(frozen=True)
class Listed:
    rtype: ResourceType
    listing: Listing


@dataclass(frozen=True)
class Event:
    rtype: ResourceType
    type: str
    obj: dict[str, object]


@dataclass(frozen=True)
class Failed:
    rtype: ResourceType
    failure: TypeFailure


@dataclass(frozen=True)
class Lost:
    rtype: ResourceType
    kind: FailureKind
    message: str


@dataclass(frozen=True)
class Connected:
    rtype: ResourceType


Message = Listed | Event | Failed | Lost | Connected


@dataclass
class TypeState:
    observations: dict[ObjectKey, Observation] = field(default_factory=dict)
    versions: dict[ObjectKey, str] = field(default_factory=dict)
    listed: bool = False
    connected: bool = False
    failure: TypeFailure | None = None
    stamped: datetime | None = None
    list_version: str = ""
    # The last good observation of each object whose latest one is refused (a NUL, a surrogate):
    # the snapshot keeps it, never re-stamped, so it turns stale.
    held: dict[ObjectKey, Observation] = field(default_factory=dict)


def object_key(obj: dict[str, object]) -> ObjectKey:
    """An object's (namespace, name): the same object in every event of its type."""
    metadata = as_map(obj.get("metadata"))
    return (as_text(metadata.get("namespace")), as_text(metadata.get("name")))
