"""Scripted failures of the loopback API server, and the request log they match against.

Tests (and nothing else: the demo scripts no faults) add a :class:`Fault` to a
server with ``FakeApiServer.fault``; the handler
(:mod:`~trueup.testing.kube_api.handler`) records every :class:`Request` and asks
the first fault that applies to replace or damage the answer: a status code
(403/404/410/429 with ``Retry-After``/500), a connection reset after N bytes, a
silent watch (headers, then nothing), a watch that expires after N events (0: at
once, as in a compaction storm), one answered "too large resource version" at
once (as after an etcd restore), or one that ends normally after N events (0: at
once, as a server shedding load may).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})  # Go's strconv.ParseBool


@dataclass
class Request:
    """One request as the server saw it: method, path without the query, query, arrival."""

    method: str
    path: str
    query: dict[str, str]
    at: float

    @property
    def is_watch(self) -> bool:
        return self.query.get("watch", "") in TRUE


@dataclass
class Fault:
    """One scripted failure for requests whose path matches ``path`` (a regex)."""

    path: str
    status: int | None = None
    message: str = ""
    retry_after: int | None = None
    reset_after: int | None = None  # send this many bytes of the real answer, then RST
    silent: bool = False  # watch: send the headers, then nothing
    expire_after: int | None = None  # watch: N events, then ERROR 410 (history compacted)
    too_large: bool = False  # watch: ERROR 504 "Too large resource version" at once
    close_after: int | None = None  # watch: N events, then the end of the stream (0: at once)
    watch: bool | None = None  # only watches (True), only lists/gets (False), or both
    with_continue: bool | None = None
    skip: int = 0  # let this many matching requests through first
    times: int = 1  # then fire this often (-1: always)
    action: Callable[[], object] | None = None  # run when it fires (e.g. change the store)
    fired: int = 0

    def applies(self, request: Request) -> bool:
        """Whether this fault fires for ``request`` (counting it when it does)."""
        if not re.search(self.path, request.path):
            return False
        if self.watch is not None and request.is_watch != self.watch:
            return False
        if self.with_continue is not None and bool(request.query.get("continue")) != (
            self.with_continue
        ):
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        if self.times == 0:
            return False
        self.times -= 1
        self.fired += 1
        return True
