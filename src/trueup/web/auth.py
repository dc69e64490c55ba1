"""Who is calling: bearer tokens with a role, compared in constant time.

Every route that needs a caller depends on :func:`require`: the API reads
``Authorization: Bearer``, the feed also a ``token`` query parameter (Backstage's
URL reader sends no headers), and the dashboard (``/ui``) a cookie named
:data:`COOKIE` that its login form sets (HttpOnly). A token is hashed once and
compared with every configured token through :func:`hmac.compare_digest`, with no
early exit, so the time taken says nothing about how close a guess was.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from trueup.server_config import Role, TokenConfig

COOKIE = "trueup_token"
"""The cookie the dashboard's login form sets; :func:`require` reads it when asked to."""

_RANK: dict[Role, int] = {"read": 1, "admin": 2}

bearer = HTTPBearer(auto_error=False, description="A token from server.tokens")


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller that presented a configured token (``name`` is the token's name)."""

    name: str
    role: Role

    def may(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]


ANONYMOUS_READER = Principal("(public feed)", "read")


class TokenAuth:
    """The configured tokens, kept only as SHA-256 digests."""

    def __init__(self, tokens: Sequence[TokenConfig]) -> None:
        self._known = [
            (hashlib.sha256(t.token.get_secret_value().encode()).digest(), t.name, t.role)
            for t in tokens
        ]

    def identify(self, presented: str | None) -> Principal | None:
        """The principal whose token this is, or None; constant time over all tokens."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found: Principal | None = None
        for known, name, role in self._known:
            if hmac.compare_digest(digest, known) and found is None:
                found = Principal(name, role)
        return found


def presented_token(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    *,
    query: bool,
    cookie: bool,
) -> str | None:
    """The token the request carries: bearer first, then the query or cookie if allowed."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    if query and (value := request.query_params.get("token")):
        return value
    if cookie and (value := request.cookies.get(COOKIE)):
        return value
    return None


def require(
    role: Role,
    *,
    query: bool = False,
    cookie: bool = False,
    public: Callable[[Request], bool] | None = None,
) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: the caller, who must hold ``role``; 401/403 otherwise.

    ``public(request)`` true lets anyone in as a reader (the feed when
    ``server.public_feed`` is set).
    """

    async def dependency(  # async: no thread hop for a check that does no I/O
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),  # noqa: B008
    ) -> Principal:
        auth: TokenAuth = request.app.state.auth
        token = presented_token(request, credentials, query=query, cookie=cookie)
        principal = auth.identify(token)
        if principal is None:
            if public is not None and public(request) and role == "read":
                return ANONYMOUS_READER
            raise HTTPException(
                status_code=401,
                detail="a valid token is required" if token else "a token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.may(role):
            raise HTTPException(status_code=403, detail=f"this needs the {role} role")
        return principal

    return dependency
