"""The history timeline and the diff of two revisions, as the dashboard shows them.

Built on :mod:`trueup.views.history` (the same diffs the CLI and the API give):
:func:`timeline` turns revisions into entries newest first, each with its cause
in parts — the sync run and what triggered it (a schedule, a webhook delivery,
an API refresh, the CLI), the source versions that changed it, and the fields
it changed; :func:`revision_diff` is the field-level diff of any two.
Called by :mod:`trueup.web.ui.entity`; pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trueup.store.records import Revision
from trueup.views.age import age
from trueup.views.history import diff, revision_entries

_RUN = re.compile(r"^sync run (\d+) \((.*)\)$")
_TRIGGERS = (
    ("webhook", "webhook"),
    ("schedule", "schedule"),
    ("watch", "watch event"),
    ("api", "API request"),
    ("freshness", "freshness check"),
    ("cli", "command line"),
)


@dataclass(frozen=True, slots=True)
class CauseView:
    """Why a revision was written: the run, its trigger, and the changed source versions."""

    run_id: int | None
    trigger: str  # as recorded, e.g. "webhook github push acme/catalog on host-1"
    trigger_kind: str  # webhook, schedule, watch event, API request, command line, …
    details: Sequence[str]  # "catalog/catalog@main: fetched 1a2b…", "changed by …"


def describe_cause(cause: str) -> CauseView:
    """Split a revision's recorded cause (``sync run 7 (trigger); …; changed by …``)."""
    parts = [part.strip() for part in cause.split("; ") if part.strip()]
    run_id, trigger = None, ""
    if parts and (match := _RUN.match(parts[0])):
        run_id, trigger = int(match.group(1)), match.group(2)
        parts = parts[1:]
    kind = next((words for prefix, words in _TRIGGERS if trigger.startswith(prefix)), "")
    return CauseView(run_id, trigger, kind or (trigger.split(" ", 1)[0] if trigger else ""), parts)


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: str | None  # None: the field was added
    after: str | None  # None: the field was removed


@dataclass(frozen=True, slots=True)
class DiffView:
    changes: Sequence[FieldChange]
    findings_added: Sequence[str]
    findings_resolved: Sequence[str]

    @property
    def empty(self) -> bool:
        return not (self.changes or self.findings_added or self.findings_resolved)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    revision: int
    at: str
    age: str
    change: str  # created, changed, removed, restored
    cause: CauseView
    diff: DiffView


def shown(value: Any) -> str:
    """A field value as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff_view(raw: dict[str, Any]) -> DiffView:
    """A :func:`trueup.views.history.diff` result, one row per field, in field order."""
    changes = [FieldChange(k, None, shown(v)) for k, v in raw["added"].items()]
    changes += [FieldChange(k, shown(v), None) for k, v in raw["removed"].items()]
    changes += [FieldChange(k, shown(v["from"]), shown(v["to"])) for k, v in raw["changed"].items()]
    return DiffView(
        sorted(changes, key=lambda c: c.field),
        list(raw["findings_added"]),
        list(raw["findings_resolved"]),
    )


def timeline(revisions: Sequence[Revision], now: datetime) -> list[TimelineEntry]:
    """Every revision newest first, each diffed against the one before it."""
    entries = revision_entries(revisions)
    out = [
        TimelineEntry(
            revision=entry["revision"],
            at=entry["at"],
            age=age(rev.at, now),
            change=entry["change"],
            cause=describe_cause(entry["cause"]),
            diff=diff_view(entry["diff"]),
        )
        for entry, rev in zip(entries, revisions, strict=True)
    ]
    return out[::-1]


def latest(revisions: Sequence[Revision], now: datetime, count: int) -> list[TimelineEntry]:
    """The newest ``count`` entries of :func:`timeline`, diffing only what they need."""
    start = max(0, len(revisions) - count - 1)
    entries = timeline(revisions[start:], now)
    return entries[:count]


def revision_diff(old: Revision, new: Revision) -> DiffView:
    """What changed from ``old`` to ``new`` (any two revisions, in either order)."""
    return diff_view(diff(old.assembled, new.assembled))
