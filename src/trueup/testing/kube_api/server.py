"""One loopback Kubernetes API server: its socket, worker threads, lifecycle and shorthands.

:class:`FakeApiServer` is what callers hold: the demo's live clusters
(:mod:`trueup.world.live`), the tests' cluster fixtures and the benchmark's
child process (``python -m trueup.testing.kube_api``). It binds ``127.0.0.1``
only — there is no parameter for the address — on a free port, serves each
connection in its own thread (:mod:`~trueup.testing.kube_api.handler`), does the
TLS handshake in that thread so a stuck client cannot block ``accept()``, and
on :meth:`FakeApiServer.close` ends open watches, drops connections and joins
its threads.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from trueup.testing.kube_api.cluster_state import ClusterState, ResKey
from trueup.testing.kube_api.faults import Fault, Request
from trueup.testing.kube_api.handler import Handler
from trueup.testing.kube_api.selectors import Obj

LOOPBACK = "127.0.0.1"


class LoopbackHTTPServer(ThreadingHTTPServer):
    """The HTTP server behind one :class:`FakeApiServer`; bound to 127.0.0.1 only."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: FakeApiServer) -> None:
        self.owner = owner
        self.sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__((LOOPBACK, 0), Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # TLS handshake in the worker thread: a stuck client cannot block accept().
        raw = request
        with self.sockets_lock:
            self.sockets.add(raw)
        try:
            if self.owner.ssl_context is not None:
                try:
                    raw.settimeout(10)
                    request = self.owner.ssl_context.wrap_socket(raw, server_side=True)
                    request.settimeout(None)
                except (OSError, ssl.SSLError):
                    raw.close()
                    return
            super().process_request_thread(request, client_address)
        finally:
            with self.sockets_lock:
                self.sockets.discard(raw)

    def drop_connections(self) -> None:
        with self.sockets_lock:
            for sock in list(self.sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class FakeApiServer:
    """One cluster on 127.0.0.1 (a free port), optionally TLS, optionally a bearer token."""

    def __init__(
        self,
        *,
        name: str = "fake",
        token: str | None = None,
        tls: tuple[Path, Path] | None = None,
        bookmark_interval: float = 0.5,
        window: int = 1000,
        fresh_wait: float = 3.0,
    ) -> None:
        self.name = name
        self.token = token
        self.state = ClusterState(window=window)
        self.bookmark_interval = bookmark_interval
        self.fresh_wait = fresh_wait  # how long a watch waits for a resourceVersion ahead
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.ssl_context: ssl.SSLContext | None = None
        if tls is not None:
            self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ssl_context.load_cert_chain(str(tls[0]), str(tls[1]))
        self._server = LoopbackHTTPServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"fake-{name}")
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The bound address: always ``("127.0.0.1", port)``."""
        host, port = self._server.socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{LOOPBACK}:{self._server.server_address[1]}"

    def close(self) -> None:
        """End every watch, drop the connections, stop serving and join the threads."""
        self.closing.set()
        with self.state.changed:
            self.state.changed.notify_all()
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join()

    def reset(self) -> None:
        """Empty the cluster state, the faults and the request log (between tests)."""
        self.state.reset()
        with self.lock:
            self.faults.clear()
            self.requests.clear()
        self.bookmark_interval = 0.5
        self.fresh_wait = 3.0
        self._server.drop_connections()

    def restore(self, rv: int) -> None:
        """An etcd restore from a backup at ``rv``, then an API server restart (watches end)."""
        self.state.restore(rv)
        self._server.drop_connections()

    def fault(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def requests_to(self, pattern: str, *, watch: bool | None = None) -> list[Request]:
        with self.lock:
            return [
                r
                for r in self.requests
                if re.search(pattern, r.path) and (watch is None or r.is_watch == watch)
            ]

    def take_fault(self, request: Request) -> Fault | None:
        """Log ``request`` and return the first fault that fires for it (the handler asks)."""
        with self.lock:
            self.requests.append(request)
            for fault in self.faults:
                if fault.applies(request):
                    return fault
        return None

    # --- shorthands over the cluster state

    def apply(self, *objects: Obj) -> list[Obj]:
        return [self.state.apply(self.resource_of(o), o) for o in objects]

    def delete(self, obj: Obj) -> None:
        meta = obj["metadata"]
        self.state.delete(self.resource_of(obj), meta.get("namespace", ""), meta["name"])

    def resource_of(self, obj: Obj) -> ResKey:
        group, _, version = obj["apiVersion"].rpartition("/")
        for info in self.state.resources():
            if info.group == group and info.version == version and info.kind == obj["kind"]:
                return info.key
        raise KeyError(f"{obj['apiVersion']} {obj['kind']} is not served")
