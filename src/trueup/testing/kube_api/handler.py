"""HTTP handling of the loopback API server: authentication, faults, routes, objects, lists.

One :class:`Handler` per connection, run in the worker thread of
:mod:`~trueup.testing.kube_api.server`. It checks the bearer token (401 with a
``Status`` otherwise), records the request and applies a scripted
:class:`~trueup.testing.kube_api.faults.Fault`, then serves what the official
client, kubectl and trueup's live source call: ``/healthz``, ``/version``,
discovery, get/create/update/delete of one object, and lists with
``limit``/``continue``/``resourceVersion``/``labelSelector``/``fieldSelector``
served as one consistent snapshot. Watches are handed to
:mod:`~trueup.testing.kube_api.watch`. An unexpected error still answers with a
500 ``Status``, never a closed connection.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from trueup.testing.kube_api.cluster_state import ConflictError, ExpiredError, ObjKey, ResourceInfo
from trueup.testing.kube_api.documents import (
    REASONS,
    continue_token,
    group_document,
    group_list,
    list_body,
    read_continue_token,
    resource_list,
    status_body,
)
from trueup.testing.kube_api.faults import Fault, Request
from trueup.testing.kube_api.selectors import (
    BadRequestError,
    Filter,
    Obj,
    parse_field_selector,
    parse_label_selector,
)
from trueup.testing.kube_api.watch import WatchStream

if TYPE_CHECKING:
    from trueup.testing.kube_api.server import FakeApiServer, LoopbackHTTPServer

_NOT_FOUND = "the server could not find the requested resource"
_STALE_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list "
    "result. You can start a new list without the continue parameter, or use the "
    "continue token in this response to retrieve the remainder of the results."
)


class Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests as a Kubernetes API server does."""

    protocol_version = "HTTP/1.1"
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
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
            fault = self.api.take_fault(request)
            if fault is not None and fault.action is not None:
                fault.action()
            if fault is not None and self._fail(fault):
                return
            self._route(request, fault)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as exc:  # never close without a Status
            self._status(500, f"fake apiserver: {type(exc).__name__}: {exc}")

    def _fail(self, fault: Fault) -> bool:
        """Apply a fault that replaces the answer; False when the route must run."""
        if fault.status is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            self._status(fault.status, fault.message or f"scripted {fault.status}", headers)
            return True
        if fault.silent:
            self._stream_headers()
            self.wfile.flush()
            self.api.closing.wait()
            self.close_connection = True
            return True
        return False

    def _stream_headers(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send_json(
        self, code: int, body: Obj, headers: dict[str, str] | None = None, reset: int | None = None
    ) -> None:
        data = json.dumps(body).encode()
        head = [f"HTTP/1.1 {code} {REASONS.get(code, 'OK') if code >= 400 else 'OK'}"]
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
        """Drop the connection with an RST (SO_LINGER 0), as a crashing server would."""
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
        served = self.api.state.resources()
        if path == "/api":
            body = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            self._send_json(200, body, reset=reset)
            return
        if path == "/apis":
            self._send_json(200, group_list(served), reset=reset)
            return
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                found = group_document(parts[1], served)
                if found is None:
                    self._status(404, _NOT_FOUND)
                else:
                    self._send_json(200, found, reset=reset)
                return
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            self._status(404, _NOT_FOUND)
            return
        here = [r for r in served if (r.group, r.version) == (group, version)]
        if not here:
            self._status(404, _NOT_FOUND)
            return
        if not rest:
            self._send_json(200, resource_list(group, version, here), reset=reset)
            return
        self._resource(request, group, version, rest, fault)

    def _resource(
        self, request: Request, group: str, version: str, rest: list[str], fault: Fault | None
    ) -> None:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        info = self.api.state.resource((group, version, plural))
        if info is None or (namespace is not None and not info.namespaced):
            self._status(404, _NOT_FOUND)
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
        state = self.api.state
        try:
            if request.method == "GET" and name:
                found = state.current(info.key, (namespace or "", name))
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
                self._send_json(201, state.create(info.key, body))
            elif request.method == "PUT" and name:
                body = self._body()
                body.setdefault("metadata", {})["namespace"] = namespace or ""
                self._send_json(200, state.update(info.key, body))
            elif request.method == "DELETE" and name:
                self._send_json(200, state.delete(info.key, namespace or "", name))
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
        state = self.api.state
        token = request.query.get("continue", "")
        limit_text = request.query.get("limit", "")
        limit = int(limit_text) if limit_text.isdigit() and int(limit_text) > 0 else None
        after: ObjKey | None = None
        try:
            if token:
                rv, after = read_continue_token(token)
            else:
                rv = self._list_rv(request)
            items, last, remaining = state.list_at(info.key, rv, flt, after, limit)
        except ExpiredError:
            self._status(410, _STALE_CONTINUE if token else "too old resource version")
            return
        except (ValueError, KeyError) as exc:
            self._status(400, f"invalid continue or resource version: {exc}")
            return
        metadata: Obj = {"resourceVersion": str(rv)}
        if last is not None:
            metadata["continue"] = continue_token(rv, last)
            metadata["remainingItemCount"] = remaining
        body = list_body(info, items, metadata)
        self._send_json(200, body, reset=fault.reset_after if fault else None)

    def _list_rv(self, request: Request) -> int:
        text = request.query.get("resourceVersion", "")
        match = request.query.get("resourceVersionMatch", "")
        if text and text != "0" and match == "Exact":
            return int(text)
        return self.api.state.rv

    def _watch(
        self, request: Request, info: ResourceInfo, flt: Filter, fault: Fault | None
    ) -> None:
        text = request.query.get("resourceVersion", "")
        if text and not text.isdigit():
            self._status(400, f"invalid resource version: {text}")
            return
        self._stream_headers()
        self.close_connection = True
        WatchStream(self.api, self.wfile, self._reset, fault).run(request, info, flt)
