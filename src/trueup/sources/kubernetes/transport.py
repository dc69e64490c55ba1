"""The one boundary between trueup and the Kubernetes client library.

trueup talks to clusters through the official ``kubernetes`` Python client
(its kubeconfig loader: contexts, CA data, tokens, exec plugins, client
certificates; its REST client: TLS, proxies, bearer-token refresh). The loader
only ever sees a context that :mod:`~trueup.sources.kubernetes.credentials`
has checked: no credential command runs unless the source allows it, and token
files are read as client-go reads them. It uses the
client's raw request path, not the generated typed APIs or its ``Watch`` helper,
because trueup owns the list → watch → relist loop (none of the Python clients
is a full informer): it needs every list page's ``resourceVersion`` and
``continue``, the ``Retry-After`` header of a 429, the ``Status`` body of every
error, and a watch stream with a client-side idle deadline that another thread
can shut down.

Called by the live reader (:mod:`~trueup.sources.kubernetes.live`), discovery
and the pager, and the watcher. Everything the library raises is translated
here, and only here, into:

- :class:`KubeApiError` — the server answered with an error ``Status``
  (403, 404, 410, 429 …); carries the code, reason, message and Retry-After;
- :class:`KubeUnreachableError` — no usable answer: connection refused or reset,
  TLS failure, timeout, a body that is not JSON;
- :class:`KubeIdleError` — a watch stream stayed silent past its deadline.

These subclass :class:`~trueup.errors.SourceError`, chained with ``from``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import urllib3
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException, OpenApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader

from trueup.errors import KubeApiError, KubeAuthError, KubeIdleError, KubeUnreachableError
from trueup.model.observation import show_unstorable
from trueup.redaction import KNOWN_SECRETS
from trueup.sources.kubernetes.credentials import (
    PreparedContext,
    SecurityNote,
    TokenFileRefresh,
    handle_insecure_warnings,
)

JSONObject = dict[str, Any]  # one decoded JSON object from the API (narrowed by its reader)
Params = Sequence[tuple[str, str]]


class StatusBody(TypedDict, total=False):
    """A ``meta.k8s.io/v1`` Status: the body of every API error."""

    kind: str
    code: int
    reason: str
    message: str


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    request: float = 60.0  # one list page or discovery document


def client_for(prepared: PreparedContext) -> ApiClient:
    """An API client for one context checked by ``credentials.prepare``.

    Raises KubeAuthError when it cannot be made.
    """
    configuration = Configuration()
    try:
        loader = KubeConfigLoader(  # type: ignore[no-untyped-call]
            config_dict=prepared.document,
            active_context=prepared.context,
            config_base_path=str(prepared.base),
        )
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
        raise KubeAuthError(f"context {prepared.context!r}: {exc}") from exc
    # trueup owns retries and backoff (429, 5xx, resets): the library must not retry.
    configuration.retries = False
    if prepared.token_file is not None:
        where = f"context {prepared.context!r}"
        refresh = TokenFileRefresh(prepared.token_file, where)
        configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]
    if any(note.kind == "insecure-skip-tls-verify" for note in prepared.notes):
        handle_insecure_warnings(prepared.server)
    _remember_token(configuration)
    return ApiClient(configuration)


def _remember_token(configuration: Configuration) -> None:
    """The bearer token in use (static, from a file or a plugin) is a known secret."""
    value = configuration.api_key.get("BearerToken")
    if isinstance(value, str):
        KNOWN_SECRETS.add(value.removeprefix("Bearer "))


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _api_error(status: int, reason: str, data: bytes, headers: Any) -> KubeApiError:
    try:
        body = json.loads(data) if data else {}
    except ValueError:
        body = {}
    status_body = cast(StatusBody, body if isinstance(body, dict) else {})
    message = status_body.get("message") if isinstance(status_body.get("message"), str) else ""
    reason_text = status_body.get("reason") if isinstance(status_body.get("reason"), str) else ""
    # The server's words end up in findings and the scope's health: never with a NUL,
    # which PostgreSQL cannot store, or a lone surrogate, which UTF-8 cannot (the whole
    # commit would fail).
    return KubeApiError(
        status,
        show_unstorable(reason_text or reason),
        show_unstorable(message or ""),
        _retry_after(headers),
    )


class WatchStream:
    """One open watch: iterate raw JSON lines; ``shutdown()`` from another thread stops it."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._closed = threading.Event()

    def lines(self) -> Iterator[bytes]:
        buffer = b""
        try:
            for chunk in self._response.stream(65536, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield line
        except urllib3.exceptions.ReadTimeoutError as exc:
            if self._closed.is_set():
                return
            raise KubeIdleError(f"watch stream silent past its deadline: {exc}") from exc
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if self._closed.is_set():
                return
            raise KubeUnreachableError(f"watch stream broken: {exc}") from exc
        if buffer.strip() and not self._closed.is_set():
            yield buffer

    def shutdown(self) -> None:
        """Wake a reader blocked on the socket (safe from any thread, more than once)."""
        self._closed.set()
        with contextlib.suppress(OSError, AttributeError, ValueError, RuntimeError):
            self._response.shutdown()

    def close(self) -> None:
        """Close the connection (it is not reused: a watch may have been cut anywhere)."""
        self._closed.set()
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            self._response.close()


class ApiTransport:
    """GET JSON and open watches on one cluster, with errors translated."""

    def __init__(
        self,
        client: ApiClient,
        timeouts: Timeouts = Timeouts(),
        notes: tuple[SecurityNote, ...] = (),
    ) -> None:
        self.client = client
        self.timeouts = timeouts
        self.notes = notes  # insecure TLS, credentials over HTTP: shown as findings

    @property
    def server(self) -> str:
        return str(self.client.configuration.host)

    def _open(self, path: str, params: Params, read_timeout: float) -> Any:
        try:
            method, url, headers, _, _ = self.client.param_serialize(
                "GET",
                path,
                query_params=list(params),
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            _remember_token(self.client.configuration)  # a plugin may have refreshed it
            return self.client.call_api(
                method, url, headers, _request_timeout=(self.timeouts.connect, read_timeout)
            )
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise KubeUnreachableError(f"{self.server}: no answer in time ({exc})") from exc
        except (TimeoutError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnreachableError(f"{self.server}: {exc}") from exc
        except ApiException as exc:  # the library's wrapper of TLS errors
            raise KubeUnreachableError(f"{self.server}: {exc.reason or exc}") from exc
        except OpenApiException as exc:
            raise KubeUnreachableError(f"{self.server}: {exc}") from exc

    def get(self, path: str, params: Params = ()) -> JSONObject:
        """One GET; the decoded JSON object, or KubeApiError / KubeUnreachableError."""
        response = self._open(path, params, self.timeouts.request)
        try:
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnreachableError(f"{self.server}: answer cut short ({exc})") from exc
        finally:
            response.response.release_conn()
        if not 200 <= response.status <= 299:
            raise _api_error(response.status, str(response.reason), data, response.headers)
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise KubeUnreachableError(f"{self.server}{path}: not JSON ({exc})") from exc
        if not isinstance(body, dict):
            raise KubeUnreachableError(f"{self.server}{path}: not a JSON object")
        return body

    def watch(self, path: str, params: Params, idle_timeout: float) -> WatchStream:
        """Open a watch; reads that wait longer than ``idle_timeout`` raise KubeIdleError."""
        response = self._open(path, params, idle_timeout)
        raw = response.response
        if response.status != 200:
            try:
                data = raw.read()
            except (urllib3.exceptions.HTTPError, OSError):
                data = b""
            finally:
                raw.release_conn()
            raise _api_error(response.status, str(response.reason), data, response.headers)
        return WatchStream(raw)

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]
