"""Signing in to the dashboard: a token form, an HttpOnly cookie, and forms safe from CSRF.

The dashboard takes the same tokens as the API (``server.tokens``, roles
``read`` and ``admin``). A person pastes a token into the sign-in form once; it
is checked in constant time (:class:`trueup.web.auth.TokenAuth`) and kept in the
cookie :data:`trueup.web.auth.COOKIE`: ``HttpOnly`` (no script can read it),
``SameSite=Strict`` (no other site's page can make the browser send it),
``Secure`` when the dashboard is served over https, limited to ``/ui``. The
token never appears in a URL: the form posts it, pages never read a ``token``
query parameter, and the address to return to after sign-in loses one.

Forms that change something (sign out, release held removals) carry a CSRF
token derived from the session's token with HMAC-SHA256 — a page of another
site can neither read it nor compute it — and are refused when the browser
says they come from another origin.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response

from trueup.web.auth import COOKIE, Principal, TokenAuth, presented_token
from trueup.web.state import server_state
from trueup.web.ui.templating import PREFIX, SECURITY_HEADERS, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_CSRF_CONTEXT = b"trueup dashboard form"
LOGIN = f"{PREFIX}/login"


def _auth(request: Request) -> TokenAuth:
    auth: TokenAuth = request.app.state.auth
    return auth


def session_token(request: Request) -> str | None:
    """The token the dashboard's cookie holds (never a header or a query parameter)."""
    return presented_token(request, None, query=False, cookie=True)


def signed_in(request: Request) -> Principal | None:
    return _auth(request).identify(session_token(request))


def csrf_token(token: str) -> str:
    """The form token of a session: HMAC-SHA256 keyed by the session's token."""
    return hmac.new(token.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a dashboard path of this site, without any ``token``."""
    default = f"{PREFIX}/catalog"
    if not target or not target.startswith(f"{PREFIX}/") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return default
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "token"])
    return parts.path + (f"?{query}" if query else "")


def viewer(request: Request) -> Principal:
    """A dependency: the signed-in person, or a redirect to the sign-in form (303)."""
    principal = signed_in(request)
    if principal is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"{LOGIN}?{urlencode({'next': safe_next(here)})}"
        headers = {**SECURITY_HEADERS, "Location": location}
        raise HTTPException(303, detail="sign in first", headers=headers)
    return principal


Viewer = Annotated[Principal, Depends(viewer)]


def page_context(request: Request, principal: Principal, section: str) -> dict[str, object]:
    """What the layout needs on every signed-in page."""
    token = session_token(request) or ""
    return {"viewer": principal, "csrf": csrf_token(token), "section": section}


def same_origin(request: Request) -> bool:
    """False when the browser says the form came from another origin (``Origin``).

    The dashboard's own origins are the request's (scheme and ``Host``) and the
    configured ``public_url``'s: a reverse proxy that passes its upstream's host
    (nginx's default) leaves only the second one naming where the browser was.
    """
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # "null": a sandboxed or privacy-sensitive context: refuse
    own = {f"{request.url.scheme}://{request.url.netloc}"}
    public = server_state(request).config.public_url
    if public:
        parts = urlsplit(public)
        own.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origin.rstrip("/") in own


def form_refused(request: Request, csrf: str) -> bool:
    """A state-changing form that is not this session's own: another origin, or a CSRF
    token that does not match the session."""
    token = session_token(request) or ""
    return not same_origin(request) or not hmac.compare_digest(csrf, csrf_token(token))


FORM_REFUSED = "This form did not come from your dashboard session; nothing was changed."


def error_page(
    request: Request, status: int, message: str, principal: Principal | None
) -> Response:
    """A page that says what went wrong, in the dashboard's layout."""
    context: dict[str, object] = {"message": message, "status": status, "section": ""}
    if principal is not None:
        context.update(page_context(request, principal, ""))
    else:
        context["viewer"] = None
    return render(request, "error.html", context, status=status)


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, safe_next(next), None, 200)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    token: Annotated[str, Form(max_length=4096)] = "",
    next: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    target = safe_next(next)
    if not same_origin(request):
        return _login_page(request, target, "This form did not come from this site.", 403)
    principal = _auth(request).identify(token.strip())
    if principal is None:
        message = "That token is not valid." if token.strip() else "Enter a token."
        return _login_page(request, target, message, 401)
    response = RedirectResponse(target, status_code=303, headers=dict(SECURITY_HEADERS))
    response.set_cookie(
        COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PREFIX,
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout(
    request: Request, principal: Viewer, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    if form_refused(request, csrf):
        return error_page(request, 403, FORM_REFUSED, principal)
    response = RedirectResponse(LOGIN, status_code=303, headers=dict(SECURITY_HEADERS))
    response.delete_cookie(
        COOKIE,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _login_page(request: Request, target: str, error: str | None, status: int) -> Response:
    return render(
        request,
        "login.html",
        {"next": target, "error": error, "viewer": None, "section": "login"},
        status=status,
    )


async def invalid_request(request: Request, exc: Exception) -> Response:
    """A dashboard request with a value its routes refuse: a page naming the fields, 400.

    FastAPI's own answer is JSON that repeats each value sent, such as a token typed
    into a form; the API keeps it, the dashboard never shows a value back.
    """
    if not request.url.path.startswith(f"{PREFIX}/"):
        return await request_validation_exception_handler(
            request, cast(RequestValidationError, exc)
        )
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    fields = sorted({str(error["loc"][-1]) for error in errors if error.get("loc")})
    named = ", ".join(fields) or "a value"
    return error_page(
        request,
        400,
        f"This request has a value the dashboard does not take: {named}.",
        signed_in(request),
    )
