"""Watch streams of the loopback API server: chunked events from a resourceVersion.

Called by :mod:`~trueup.testing.kube_api.handler` once it has sent the headers of
a ``?watch=true`` answer. A watch without a resourceVersion (or ``0``) first
sends the current objects as ADDED; then it replays the cluster state's history after
its cursor and waits for changes: ADDED/MODIFIED/DELETED as a selector sees
them (an update that moves an object into or out of the selector is ADDED or
DELETED), BOOKMARK events when asked, an ERROR 410 when the history was
compacted past the cursor, an ERROR 504 "Too large resource version" when the
store does not reach the cursor within ``fresh_wait`` (after an etcd restore),
and the end of the stream at ``timeoutSeconds`` or when the server closes.
Faults can reset the connection after N bytes, expire the watch after N events,
answer it "too large" at once, or end it after N events (0 for either count: at
once, before anything is sent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from trueup.testing.kube_api.cluster_state import Event, ExpiredError, ResourceInfo
from trueup.testing.kube_api.documents import chunk, expired_event, too_large_event
from trueup.testing.kube_api.faults import TRUE, Fault, Request
from trueup.testing.kube_api.selectors import Filter, Obj

if TYPE_CHECKING:
    from trueup.testing.kube_api.server import FakeApiServer


class Writer(Protocol):
    """Where an answer's bytes go (the handler's ``wfile``)."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


def end_stream(out: Writer) -> None:
    """The last chunk of a chunked answer (ignored when the client is gone)."""
    try:
        out.write(b"0\r\n\r\n")
        out.flush()
    except OSError:
        pass


def transition(event: Event, flt: Filter) -> str | None:
    """ADDED when an update moves an object into the selector, DELETED when out of it."""
    now_in = flt.matches(event.obj) if event.type != "DELETED" else False
    was_in = flt.matches(event.previous)
    if event.type == "ADDED":
        return "ADDED" if now_in else None
    if event.type == "DELETED":
        return "DELETED" if was_in else None
    if now_in and was_in:
        return "MODIFIED"
    if now_in:
        return "ADDED"
    return "DELETED" if was_in else None


class WatchStream:
    """One watch answer being written; ``run`` returns when the stream is over."""

    def __init__(
        self,
        api: FakeApiServer,
        out: Writer,
        reset: Callable[[], None],
        fault: Fault | None,
    ) -> None:
        self.api = api
        self.out = out
        self.reset = reset
        self.sent = 0
        self.budget = fault.reset_after if fault else None
        self.expire_after = fault.expire_after if fault else None
        self.close_after = fault.close_after if fault else None
        self.too_large = fault.too_large if fault else False
        self.start = 0

    def send(self, event: Obj) -> bool:
        """Write one event; False when the stream ended (a fault fired)."""
        data = chunk(event)
        if self.budget is not None:
            if len(data) >= self.budget:
                self.out.write(data[: self.budget])
                self.out.flush()
                self.reset()
                return False
            self.budget -= len(data)
        self.out.write(data)
        self.out.flush()
        self.sent += 1
        if self.expire_after is not None and self.sent >= self.expire_after:
            state = self.api.state
            state.compact()
            self.out.write(chunk(expired_event(self.start, state.compacted)))
            end_stream(self.out)
            return False
        if self.close_after is not None and self.sent >= self.close_after:
            end_stream(self.out)
            return False
        return True

    def _wait_for(self, rv: int) -> bool:
        """Whether the store reaches ``rv`` within ``fresh_wait`` (as the watch cache waits)."""
        state = self.api.state
        deadline = time.monotonic() + self.api.fresh_wait
        with state.changed:
            while state.rv < rv and not self.api.closing.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                state.changed.wait(left)
            return state.rv >= rv

    def run(self, request: Request, info: ResourceInfo, flt: Filter) -> None:
        state = self.api.state
        text = request.query.get("resourceVersion", "")
        self.start = int(text or 0)
        timeout = float(request.query.get("timeoutSeconds") or 1800)
        bookmarks = request.query.get("allowWatchBookmarks", "") in TRUE
        deadline = time.monotonic() + timeout
        if self.close_after == 0:
            end_stream(self.out)
            return
        if self.expire_after == 0 or self.too_large:  # the history is left as it is
            rv = state.rv
            error = (
                too_large_event(self.start, rv) if self.too_large else expired_event(self.start, rv)
            )
            self.out.write(chunk(error))
            end_stream(self.out)
            return
        if not text or text == "0":
            with state.changed:
                cursor = state.rv
                items, _, _ = state.list_at(info.key, cursor, flt, None, None)
            for item in items:
                if not self.send({"type": "ADDED", "object": item}):
                    return
        else:
            cursor = int(text)
            if not self._wait_for(cursor):
                self.out.write(chunk(too_large_event(cursor, state.rv)))
                end_stream(self.out)
                return
        last_bookmark = time.monotonic()
        while not self.api.closing.is_set():
            try:
                events, top = state.events_after(cursor, info.key)
            except ExpiredError as exc:
                self.out.write(chunk(expired_event(exc.requested, exc.oldest)))
                end_stream(self.out)
                return
            for event in events:
                kind = transition(event, flt)
                if kind is not None and not self.send({"type": kind, "object": event.obj}):
                    return
            cursor = top
            now = time.monotonic()
            if now >= deadline:
                end_stream(self.out)
                return
            if bookmarks and now - last_bookmark >= self.api.bookmark_interval:
                bookmark: Obj = {"kind": info.kind, "apiVersion": info.group_version}
                bookmark["metadata"] = {"resourceVersion": str(cursor)}
                if not self.send({"type": "BOOKMARK", "object": bookmark}):
                    return
                last_bookmark = now
            with state.changed:
                if state.rv == cursor and not self.api.closing.is_set():
                    wait = deadline - now
                    if bookmarks:
                        wait = min(wait, self.api.bookmark_interval)
                    state.changed.wait(max(0.0, min(wait, 1.0)))
        end_stream(self.out)
