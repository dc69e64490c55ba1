"""Reading a webhook body without trusting its size or its pace.

GitHub caps payloads at 25 MB; anything larger is refused before it is read
whole: at once when ``Content-Length`` says so, else as soon as the streamed
bytes pass the cap. A body that trickles in slower than the deadline is cut
off (GitHub itself gives up after 10 s), so a slow client holds no more than
one waiting coroutine.
"""

from __future__ import annotations

import asyncio

from fastapi import HTTPException, Request

MAX_BODY = 25 * 1024 * 1024
BODY_DEADLINE = 10.0  # seconds for the whole body


async def read_body(
    request: Request, limit: int = MAX_BODY, deadline: float = BODY_DEADLINE
) -> bytes:
    """The raw body; 413 over ``limit``, 408 past ``deadline``, 400 for a bad length."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, detail="Content-Length is not a number")
        if int(declared) > limit:
            raise HTTPException(413, detail=f"the body is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(deadline):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, detail=f"the body is over the {limit}-byte limit")
                chunks.append(chunk)
    except TimeoutError as exc:
        raise HTTPException(408, detail="the body did not arrive in time") from exc
    return b"".join(chunks)
