"""A loopback Kubernetes API server that speaks the real protocol (tests and benchmarks).

It follows ``shared/research/k8s-test-api-contract.md`` §3 so that trueup's
production client library (the official ``kubernetes`` client) is driven over
real HTTP: discovery (``/api``, ``/apis``, group and group/version resource
lists), CRDs as ordinary objects that register their kinds, lists with
``limit``/``continue``/``resourceVersion``/``labelSelector``/``fieldSelector``
served as one consistent snapshot, chunked watch streams
(ADDED/MODIFIED/DELETED/BOOKMARK/ERROR, Go-style booleans, selector
transitions, ``timeoutSeconds``), ``Status`` error bodies, a bearer token
(401 otherwise) and optional TLS with the handshake done in the worker thread.

Scripted :class:`Fault` objects make the failures of the test plan happen on
purpose: a status code (403/404/410/429 with ``Retry-After``/500), a
connection reset after N bytes, a silent watch (headers, then nothing), a watch
that expires after N events. ``requests`` records every request.

Run ``python -m tests.sources.kubernetes.fake_apiserver --count 3`` to serve
clusters from another process (the benchmark does).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.sources.kubernetes.fake_store import (
    BadRequestError,
    ConflictError,
    ExpiredError,
    Filter,
    Obj,
    ResKey,
    ResourceInfo,
    Store,
    parse_field_selector,
    parse_label_selector,
)

BUILTIN_GROUPS = frozenset({"", "apps", "batch", "networking.k8s.io", "apiextensions.k8s.io"})
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    504: "Timeout",
}


def status_body(code: int, message: str, reason: str | None = None) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, "Unknown"),
        "code": code,
    }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    at: float

    @property
    def is_watch(self) -> bool:
        return self.query.get("watch", "") in _TRUE


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
    watch: bool | None = None  # only watches (True), only lists/gets (False), or both
    with_continue: bool | None = None
    skip: int = 0  # let this many matching requests through first
    times: int = 1  # then fire this often (-1: always)
    action: Callable[[], object] | None = None  # run when it fires (e.g. change the store)
    fired: int = 0

    def applies(self, request: Request) -> bool:
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


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: FakeApiServer) -> None:
        self.owner = owner
        self.sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

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
    """One fake cluster on 127.0.0.1 (a free port), optionally TLS with a bearer token."""

    def __init__(
        self,
        *,
        name: str = "fake",
        token: str | None = None,
        tls: tuple[Path, Path] | None = None,
        bookmark_interval: float = 0.5,
        window: int = 1000,
    ) -> None:
        self.name = name
        self.token = token
        self.store = Store(window=window)
        self.bookmark_interval = bookmark_interval
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.ssl_context: ssl.SSLContext | None = None
        if tls is not None:
            self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ssl_context.load_cert_chain(str(tls[0]), str(tls[1]))
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"fake-{name}")
        self._thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self.closing.set()
        with self.store.changed:
            self.store.changed.notify_all()
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join()

    def reset(self) -> None:
        """Empty the store, the faults and the request log (between tests)."""
        self.store.reset()
        with self.lock:
            self.faults.clear()
            self.requests.clear()
        self.bookmark_interval = 0.5
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

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            self.requests.append(request)
            for fault in self.faults:
                if fault.applies(request):
                    return fault
        return None

    # --- test shorthands over the store

    def apply(self, *objects: Obj) -> list[Obj]:
        return [self.store.apply(self.resource_of(o), o) for o in objects]

    def delete(self, obj: Obj) -> None:
        meta = obj["metadata"]
        self.store.delete(self.resource_of(obj), meta.get("namespace", ""), meta["name"])

    def resource_of(self, obj: Obj) -> ResKey:
        group, _, version = obj["apiVersion"].rpartition("/")
        for info in self.store.resources():
            if info.group == group and info.version == version and info.kind == obj["kind"]:
                return info.key
        raise KeyError(f"{obj['apiVersion']} {obj['kind']} is not served")


# --- HTTP -------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def api(self) -> FakeApiServer:
        return self.server.owner

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # --- plumbing

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request = Request(method, split.path.rstrip("/") or "/", query, time.monotonic())
        try:
            if self.api.token is not None:
                expected = f"Bearer {self.api.token}"
                if self.headers.get("Authorization") != expected:
                    self._status(401, "Unauthorized")
                    return
            fault = self.api._take_fault(request)
            if fault is not None and fault.action is not None:
                fault.action()
            if fault is not None and self._fail(fault, request):
                return
            self._route(request, fault)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:  # never close without a Status
            self._status(500, f"fake apiserver: {type(exc).__name__}: {exc}")

    def _fail(self, fault: Fault, request: Request) -> bool:
        """Apply a fault that replaces the answer; False when the route must run."""
        if fault.status is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            self._status(fault.status, fault.message or f"scripted {fault.status}", headers)
            return True
        if fault.silent:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            self.api.closing.wait()
            self.close_connection = True
            return True
        return False

    def _send_json(
        self, code: int, body: Obj, headers: dict[str, str] | None = None, reset: int | None = None
    ) -> None:
        data = json.dumps(body).encode()
        head = [f"HTTP/1.1 {code} {_REASONS.get(code, 'OK') if code >= 400 else 'OK'}"]
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        if reset is not None:
            self.wfile.write(raw[:reset])
            self.wfile.flush()
            self._reset()
            return
        self.log_request(code)
        self.wfile.write(raw)

    def _reset(self) -> None:
        sock = self.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            sock.close()

    def _status(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(code, status_body(code, message), headers)

    # --- routes

    def _route(self, request: Request, fault: Fault | None) -> None:
        path = request.path
        parts = [p for p in path.split("/") if p]
        reset = fault.reset_after if fault else None
        if path in ("/healthz", "/readyz", "/livez"):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if path == "/version":
            self._send_json(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake"})
            return
        if path == "/api":
            body = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            self._send_json(200, body, reset=reset)
            return
        if path == "/apis":
            self._send_json(200, self._group_list(), reset=reset)
            return
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                found = self._group(parts[1])
                if found is None:
                    self._status(404, "the server could not find the requested resource")
                else:
                    self._send_json(200, found, reset=reset)
                return
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            self._status(404, "the server could not find the requested resource")
            return
        served = [r for r in self.api.store.resources() if (r.group, r.version) == (group, version)]
        if not served:
            self._status(404, "the server could not find the requested resource")
            return
        if not rest:
            self._send_json(200, _resource_list(group, version, served), reset=reset)
            return
        self._resource(request, group, version, rest, fault)

    def _group_list(self) -> Obj:
        groups: dict[str, list[str]] = {}
        for info in self.api.store.resources():
            if info.group:
                versions = groups.setdefault(info.group, [])
                if info.version not in versions:
                    versions.append(info.version)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group_body(g, vs) for g, vs in sorted(groups.items())],
        }

    def _group(self, group: str) -> Obj | None:
        versions = sorted(
            {r.version for r in self.api.store.resources() if r.group == group}, key=_priority
        )
        if not versions:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **_group_body(group, versions)}

    def _resource(
        self, request: Request, group: str, version: str, rest: list[str], fault: Fault | None
    ) -> None:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        info = self.api.store.resource((group, version, plural))
        if info is None or (namespace is not None and not info.namespaced):
            self._status(404, "the server could not find the requested resource")
            return
        if request.method == "GET" and name is None:
            flt = self._filter(request, namespace)
            if flt is None:
                return
            if request.is_watch:
                self._watch(request, info, flt, fault)
            else:
                self._list(request, info, flt, fault)
            return
        self._object(request, info, namespace, name)

    def _filter(self, request: Request, namespace: str | None) -> Filter | None:
        try:
            labels = parse_label_selector(request.query.get("labelSelector", ""))
            fields = parse_field_selector(request.query.get("fieldSelector", ""))
        except BadRequestError as exc:
            self._status(400, str(exc))
            return None
        return Filter(namespace, tuple(labels), tuple(fields))

    def _object(
        self, request: Request, info: ResourceInfo, namespace: str | None, name: str | None
    ) -> None:
        store = self.api.store
        try:
            if request.method == "GET" and name:
                found = store.current(info.key, (namespace or "", name))
                if found is None:
                    self._status(404, f'{info.qualified} "{name}" not found')
                else:
                    self._send_json(200, found)
            elif request.method == "POST" and name is None:
                if info.namespaced and namespace is None:
                    self._status(405, "the server does not allow this method on the resource")
                    return
                body = self._body()
                if namespace:
                    body.setdefault("metadata", {})["namespace"] = namespace
                self._send_json(201, store.create(info.key, body))
            elif request.method == "PUT" and name:
                body = self._body()
                body.setdefault("metadata", {})["namespace"] = namespace or ""
                self._send_json(200, store.update(info.key, body))
            elif request.method == "DELETE" and name:
                self._send_json(200, store.delete(info.key, namespace or "", name))
            else:
                self._status(405, "the server does not allow this method on the resource")
        except KeyError:
            self._status(404, f'{info.qualified} "{name}" not found')
        except ConflictError as exc:
            reason = "AlreadyExists" if "already exists" in str(exc) else "Conflict"
            self._send_json(409, status_body(409, str(exc), reason))

    def _body(self) -> Obj:
        length = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(length) or b"{}")
        if not isinstance(data, dict):
            raise BadRequestError("the body is not an object")
        return data

    def _list(self, request: Request, info: ResourceInfo, flt: Filter, fault: Fault | None) -> None:
        store = self.api.store
        token = request.query.get("continue", "")
        limit_text = request.query.get("limit", "")
        limit = int(limit_text) if limit_text.isdigit() and int(limit_text) > 0 else None
        try:
            if token:
                state = json.loads(base64.b64decode(token))
                rv, after = int(state["rv"]), (state["ns"], state["name"])
            else:
                rv, after = self._list_rv(request), None
            items, last, remaining = store.list_at(info.key, rv, flt, after, limit)
        except ExpiredError:
            message = (
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter, or use the "
                "continue token in this response to retrieve the remainder of the results."
            )
            self._status(410, message if token else "too old resource version")
            return
        except (ValueError, KeyError) as exc:
            self._status(400, f"invalid continue or resource version: {exc}")
            return
        metadata: Obj = {"resourceVersion": str(rv)}
        if last is not None:
            state = {"rv": rv, "ns": last[0], "name": last[1]}
            metadata["continue"] = base64.b64encode(json.dumps(state).encode()).decode()
            metadata["remainingItemCount"] = remaining
        if info.group in BUILTIN_GROUPS:  # their list items carry no apiVersion/kind
            items = [{k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in items]
        body = {
            "kind": f"{info.kind}List",
            "apiVersion": info.group_version,
            "metadata": metadata,
            "items": items,
        }
        self._send_json(200, body, reset=fault.reset_after if fault else None)

    def _list_rv(self, request: Request) -> int:
        text = request.query.get("resourceVersion", "")
        match = request.query.get("resourceVersionMatch", "")
        if text and text != "0" and match == "Exact":
            return int(text)
        return self.api.store.rv

    # --- watch

    def _watch(
        self, request: Request, info: ResourceInfo, flt: Filter, fault: Fault | None
    ) -> None:
        store = self.api.store
        text = request.query.get("resourceVersion", "")
        if text and not text.isdigit():
            self._status(400, f"invalid resource version: {text}")
            return
        timeout = float(request.query.get("timeoutSeconds") or 1800)
        bookmarks = request.query.get("allowWatchBookmarks", "") in _TRUE
        deadline = time.monotonic() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        sent = 0
        budget = fault.reset_after if fault else None
        expire_after = fault.expire_after if fault else None

        def send(event: Obj) -> bool:
            nonlocal sent, budget
            data = json.dumps(event).encode() + b"\n"
            chunk = f"{len(data):x}\r\n".encode() + data + b"\r\n"
            if budget is not None:
                if len(chunk) >= budget:
                    self.wfile.write(chunk[:budget])
                    self.wfile.flush()
                    self._reset()
                    return False
                budget -= len(chunk)
            self.wfile.write(chunk)
            self.wfile.flush()
            sent += 1
            if expire_after is not None and sent >= expire_after:
                store.compact()
                self.wfile.write(_chunk(_expired(int(text or 0), store.compacted)))
                self._end()
                return False
            return True

        if not text or text == "0":
            with store.changed:
                cursor = store.rv
                items, _, _ = store.list_at(info.key, cursor, flt, None, None)
            for item in items:
                if not send({"type": "ADDED", "object": item}):
                    return
        else:
            cursor = int(text)
        last_bookmark = time.monotonic()
        while not self.api.closing.is_set():
            try:
                events, top = store.events_after(cursor, info.key)
            except ExpiredError as exc:
                self.wfile.write(_chunk(_expired(exc.requested, exc.oldest)))
                self._end()
                return
            for event in events:
                kind = _transition(event, flt)
                if kind is not None and not send({"type": kind, "object": event.obj}):
                    return
            cursor = top
            now = time.monotonic()
            if now >= deadline:
                self._end()
                return
            if bookmarks and now - last_bookmark >= self.api.bookmark_interval:
                bookmark = {"kind": info.kind, "apiVersion": info.group_version}
                bookmark["metadata"] = {"resourceVersion": str(cursor)}
                if not send({"type": "BOOKMARK", "object": bookmark}):
                    return
                last_bookmark = now
            with store.changed:
                if store.rv == cursor and not self.api.closing.is_set():
                    wait = deadline - now
                    if bookmarks:
                        wait = min(wait, self.api.bookmark_interval)
                    store.changed.wait(max(0.0, min(wait, 1.0)))
        self._end()

    def _end(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass


def _chunk(event: Obj) -> bytes:
    data = json.dumps(event).encode() + b"\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _expired(requested: int, oldest: int) -> Obj:
    return {
        "type": "ERROR",
        "object": status_body(410, f"too old resource version: {requested} ({oldest})"),
    }


def _transition(event: Any, flt: Filter) -> str | None:
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


def _priority(version: str) -> tuple[int, int]:
    match = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", version)
    if not match:
        return (9, 0)
    stage = {"": 0, "beta": 1, "alpha": 2}[match.group(2) or ""]
    return (stage, -int(match.group(1)) * 100 - int(match.group(3) or 0))


def _group_body(group: str, versions: list[str]) -> Obj:
    ordered = sorted(versions, key=_priority)
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def _resource_list(group: str, version: str, served: list[ResourceInfo]) -> Obj:
    verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    resources: list[Obj] = []
    for info in sorted(served, key=lambda r: r.plural):
        resources.append(
            {
                "name": info.plural,
                "singularName": info.singular,
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": verbs,
                "shortNames": list(info.short_names),
                "categories": list(info.categories),
            }
        )
        resources.append(
            {
                "name": f"{info.plural}/status",
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    group_version = version if not group else f"{group}/{version}"
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


# --- certificates and kubeconfig ---------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, made with the openssl CLI."""
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class ContextEntry:
    """One kubeconfig context: its name, server URL, token and CA (file or inline)."""

    name: str
    server: str
    token: str | None = None
    ca_file: Path | None = None
    ca_inline: bool = False
    user: Obj = field(default_factory=dict)


def write_kubeconfig(path: Path, contexts: list[ContextEntry]) -> Path:
    """A kubeconfig (JSON is YAML) with one cluster, user and context per entry."""
    clusters, users, entries = [], [], []
    for entry in contexts:
        cluster: Obj = {"server": entry.server}
        if entry.ca_file is not None and entry.ca_inline:
            cluster["certificate-authority-data"] = base64.b64encode(
                entry.ca_file.read_bytes()
            ).decode()
        elif entry.ca_file is not None:
            cluster["certificate-authority"] = str(entry.ca_file)
        user = dict(entry.user) or ({"token": entry.token} if entry.token else {})
        clusters.append({"name": f"{entry.name}-cluster", "cluster": cluster})
        users.append({"name": f"{entry.name}-user", "user": user})
        entries.append(
            {
                "name": entry.name,
                "context": {"cluster": f"{entry.name}-cluster", "user": f"{entry.name}-user"},
            }
        )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": contexts[0].name if contexts else "",
        "clusters": clusters,
        "users": users,
        "contexts": entries,
    }
    path.write_text(json.dumps(config, indent=1))
    return path


ServerFactory = Callable[[], FakeApiServer]


def main() -> None:  # pragma: no cover - used by bench/kube_bench.py
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--seed", help="a JSON file: a list of objects to load in every cluster")
    parser.add_argument("--window", type=int, default=100_000)
    args = parser.parse_args()
    servers = [
        FakeApiServer(name=f"c{i}", window=args.window, bookmark_interval=5.0)
        for i in range(args.count)
    ]
    seed = json.loads(Path(args.seed).read_text()) if args.seed else []
    for server in servers:
        for obj in seed:
            server.apply(obj)
    print(" ".join(s.url for s in servers), flush=True)
    try:
        for line in sys.stdin:  # commands: "apply <cluster> <json>", "delete <cluster> <json>"
            verb, index, payload = line.split(" ", 2)
            target = servers[int(index)]
            obj = json.loads(payload)
            if verb == "apply":
                target.apply(obj)
            elif verb == "delete":
                target.delete(obj)
            print("ok", flush=True)
    finally:
        for server in servers:
            server.close()


if __name__ == "__main__":  # pragma: no cover
    main()
