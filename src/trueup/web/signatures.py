"""Proving a webhook genuine: GitHub's HMAC signature, GitLab's and Argo CD's tokens.

Pure functions over raw bytes, called by :mod:`trueup.web.webhooks` before the
body is parsed. GitHub signs the raw body with HMAC-SHA256 and sends
``X-Hub-Signature-256: sha256=<64 hex>``; the header must match that form
exactly (octokit's strict verifier), appear once, and verify with one of the
configured secrets (several during a rotation). The legacy SHA-1
``X-Hub-Signature`` is refused. Every comparison is :func:`hmac.compare_digest`
over equal-length digests, and every secret is tried, so timing reveals nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

_GITHUB = re.compile(r"sha256=([0-9a-fA-F]{64})")


class SignatureError(Exception):
    """The delivery cannot be trusted; the message says why (never a secret)."""


def verify_github(
    body: bytes, signatures: Sequence[str], sha1: Sequence[str], secrets: Sequence[bytes]
) -> None:
    """Raise SignatureError unless ``signatures`` is one valid ``X-Hub-Signature-256``."""
    if not signatures:
        if sha1:
            raise SignatureError(
                "only X-Hub-Signature (HMAC-SHA1) was sent: trueup accepts X-Hub-Signature-256"
            )
        raise SignatureError("X-Hub-Signature-256 is missing")
    if len(signatures) > 1:
        raise SignatureError("X-Hub-Signature-256 was sent more than once")
    match = _GITHUB.fullmatch(signatures[0].strip())
    if match is None:
        raise SignatureError("X-Hub-Signature-256 is not of the form sha256=<64 hex digits>")
    presented = bytes.fromhex(match.group(1))
    valid = False
    for secret in secrets:
        expected = hmac.new(secret, body, hashlib.sha256).digest()
        valid = hmac.compare_digest(presented, expected) or valid
    if not valid:
        raise SignatureError(
            "X-Hub-Signature-256 does not match the body with any configured secret"
        )


def sign_github(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send (for tests and tools)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_token(presented: str | None, expected: bytes, *, what: str) -> None:
    """Raise SignatureError unless ``presented`` equals ``expected`` (constant time)."""
    if not presented:
        raise SignatureError(f"{what} is missing")
    same = hmac.compare_digest(
        hashlib.sha256(presented.encode()).digest(), hashlib.sha256(expected).digest()
    )
    if not same:
        raise SignatureError(f"{what} does not match")


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
