"""Request bodies past a limit are refused before they are read whole, on every route.

The webhooks have their own 25 MB cap (``trueup.web.body``); the API's and the
dashboard's forms carry a few hundred bytes, yet FastAPI reads a body before it
checks the token, so without a cap anyone could make the server hold any amount.
"""

from __future__ import annotations

import socket

import pytest

from tests.web.harness import ADMIN

HUGE = 100 * 1024 * 1024


def _answer(base: str, request: bytes) -> bytes:
    """Send ``request`` (headers and the start of a body) and read the answer's status
    line, without ever sending the rest of the body."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        try:
            return sock.recv(64)
        except TimeoutError:
            return b"(no answer: the server waits for the whole body)"


@pytest.mark.parametrize(
    "path", ["/api/v1/refresh", "/api/v1/removals/accept", "/ui/login", "/ui/sources/release"]
)
@pytest.mark.parametrize("token", [None, ADMIN], ids=["anonymous", "admin"])
def test_a_declared_oversized_body_is_refused_before_it_is_read(
    base: str, path: str, token: str | None
) -> None:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    media = "application/json" if path.startswith("/api/") else "application/x-www-form-urlencoded"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\n{auth}Content-Type: {media}\r\n"
        f"Content-Length: {HUGE}\r\n\r\n{{"
    ).encode()
    assert _answer(base, request).startswith(b"HTTP/1.1 413 ")


def test_a_streamed_oversized_body_is_cut_off(base: str) -> None:
    chunk = b"x" * (1024 * 1024)
    request = (
        b"POST /api/v1/refresh HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(3))
    )
    assert _answer(base, request).startswith(b"HTTP/1.1 413 ")
