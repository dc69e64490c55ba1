"""The one redaction layer: every secret trueup knows is masked wherever text leaves it.

Secrets must never reach findings, the database, output or logs (SPEC sections 2
and 10). Rather than trusting each message to leave them out, every piece of
text that leaves trueup passes through this module, which masks:

- every value in :data:`KNOWN_SECRETS`, wherever it appears, in every form
  trueup's own writers give it: JSON-escaped (the feed, the API, ``--format
  json``, a YAML double-quoted scalar), percent-encoded with upper- or lowercase
  hex digits; a value of several lines (a PEM key) also with ``\\n`` or
  ``\\r\\n`` line ends, raw or escaped, and as the indented lines of a YAML
  block scalar. Line breaks at its ends are no part of it. It is fed by the
  configuration (:func:`register_config`: every ``SecretStr``, the password and
  credential query values of every URL in it, any ``${VAR}`` value inside one of
  those) and by the sources at run time (a kubeconfig's tokens and token files,
  Terraform's sensitive values). Values shorter than :data:`MIN_SECRET` are not
  masked: they would mask common words and are no credible secret;
- in every URL, the password of its userinfo (a lone ``token@`` too, for
  ``http(s)``) and the values of query parameters named like credentials
  (``token``, ``access_token``, ``sig``, ``X-Amz-Signature``…), as GitHub's and
  Vault's guidance has it: a credential in a URL is a credential.

Where it is applied — the choke points, each one call:

- the store: every string parameter of every ``INSERT``/``UPDATE``
  (:func:`redact_stored`, the same rule as :func:`redact_text`, called from
  :mod:`trueup.store.engine`);
- the terminal and machine output of every CLI command
  (:mod:`trueup.cli.terminal`, :mod:`trueup.cli.machine`);
- every log record (:func:`install_log_redaction`, called by the CLI);
- ``trueup config show`` (:func:`redacted`, which also masks every query value).

The registry is process-wide on purpose: log records and database parameters
carry no context to find a per-sync registry through. It only ever grows while
a process runs (a secret once known stays masked); tests clear it between tests.
Its :meth:`~SecretRegistry.fingerprint` tells a writer that masked files earlier
whether the secrets changed since (a secret learnt later is masked by a rewrite).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from trueup.config import Config

MASK = "**********"
MIN_SECRET = 4
# scrypt's cost for :meth:`SecretRegistry.fingerprint`: 16 MiB, some 40 ms (OWASP's minimum).
_SCRYPT_N, _SCRYPT_R = 1 << 14, 8
# A URL anywhere in a string: ``scheme://`` and everything up to whitespace.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]*")
# A URL's userinfo: everything up to the last ``@`` before the host's end.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s]*)@")
# Query parameters that carry credentials: any word of the key (split at ``_``, ``-``,
# ``.``) in the first set, or the whole key in the second.
_CREDENTIAL_WORDS = frozenset(
    {
        "token",
        "password",
        "passwd",
        "pwd",
        "secret",
        "signature",
        "sig",
        "credential",
        "credentials",
        "apikey",
        "auth",
        "authorization",
        "session",
        "sslpassword",
    }
)
_CREDENTIAL_KEYS = frozenset({"key", "api_key", "api-key", "code", "access_key", "pass"})


def is_credential_key(key: str) -> bool:
    """Whether a query parameter named ``key`` carries a credential."""
    lowered = key.lower()
    words = re.split(r"[_.-]", lowered)
    return lowered in _CREDENTIAL_KEYS or any(word in _CREDENTIAL_WORDS for word in words)


class SecretRegistry:
    """The secrets this process knows; thread-safe, only grows (tests clear it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[_Secret, ...] = ()  # longest first
        self._fingerprints: dict[bytes, tuple[tuple[_Secret, ...], str]] = {}  # salt: (of, digest)

    def add(self, value: str | SecretStr | None) -> None:
        """Mask ``value`` from now on, in every form :func:`_secret` names."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        value = value.strip("\r\n") if value else value
        if not value or len(value) < MIN_SECRET:
            return
        with self._lock:
            if any(known.value == value for known in self._secrets):
                return
            secrets = (*self._secrets, _secret(value))
            self._secrets = tuple(sorted(secrets, key=lambda s: (-len(s.value), s.value)))

    def add_all(self, values: Iterable[str | SecretStr | None]) -> None:
        for value in values:
            self.add(value)

    def clear(self) -> None:
        with self._lock:
            self._secrets = ()
            self._fingerprints.clear()

    def fingerprint(self, salt: bytes) -> str:
        """A digest of every secret known now, salted with ``salt``; "" when none is known.

        For a writer that keeps beside its files whether the secrets changed since
        it masked them (the directory sink), without keeping a secret. Not a plain
        hash, which gives a short secret back to a brute force: scrypt (memory-hard,
        slow) over all of them at once, with a random salt of the writer's, so
        that someone who reads the digest and its salt must guess every secret
        together, paying a scrypt per guess. Computed once per salt until the
        secrets change.
        """
        secrets = self._secrets
        if not secrets:
            return ""
        with self._lock:
            known = self._fingerprints.get(salt)
        if known is not None and known[0] is secrets:
            return known[1]
        text = json.dumps([secret.value for secret in secrets]).encode()
        digest = hashlib.scrypt(text, salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=1, dklen=32).hex()
        with self._lock:
            if len(self._fingerprints) >= 16:  # a writer per folder: a few salts at most
                self._fingerprints.clear()
            self._fingerprints[salt] = (secrets, digest)
        return digest

    def __len__(self) -> int:
        return len(self._secrets)

    def __repr__(self) -> str:  # a stray debug print must not show them
        return f"SecretRegistry({len(self._secrets)} secrets)"

    def mask(self, text: str) -> str:
        """``text`` with every known secret replaced by :data:`MASK`.

        A text without a secret's anchor holds none of its forms: one scan at C
        speed per secret, however many forms it has.
        """
        for secret in self._secrets:
            if secret.anchor not in text:
                continue
            for form in secret.forms:
                if form in text:
                    text = text.replace(form, MASK)
            if secret.spread is not None:
                masked, found = secret.spread.subn(MASK, text)
                text = masked if found else text
        return text


@dataclass(frozen=True, slots=True)
class _Secret:
    """One secret: its literal forms, longest first, and for one of several lines the
    pattern of its lines apart; both are looked for only where ``anchor`` is."""

    value: str
    anchor: str
    forms: tuple[str, ...]
    spread: re.Pattern[str] | None


# What no form changes (JSON escapes, percent-encoding): a secret's longest run of it
# is in every form of the secret.
_KEPT = re.compile(r"[A-Za-z0-9_.~-]+")
# A percent-escape: ``%2F`` and ``%2f`` are the same octet (RFC 3986 2.1).
_PERCENT = re.compile(r"%[0-9A-F]{2}")
_LINE_BREAK = re.compile(r"\r?\n")
# Between two lines of a secret: a line break, then a YAML block scalar's indentation;
# or, in a JSON or YAML double-quoted string, the escapes of one.
_RAW_BREAK = r"\r?\n *"
_ESCAPED_BREAK = r"(?:\\r)?\\n"


def _secret(value: str) -> _Secret:
    """``value`` as written raw, JSON-escaped (all ASCII or not; a YAML double-quoted
    scalar is a JSON string), percent-encoded (``/`` kept or not) in either case; and
    when it has several lines, with ``\\n`` or ``\\r\\n`` line ends, raw or escaped,
    or as the lines of a YAML block scalar (indented)."""
    forms = {value, json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1]}
    for encoded in (quote(value, safe=""), quote(value)):
        forms |= {encoded, _PERCENT.sub(lambda m: m.group().lower(), encoded)}
    anchor = max(_KEPT.findall(value), key=len, default="")
    ordered = tuple(sorted(forms, key=lambda f: (-len(f), f)))
    return _Secret(value, anchor, ordered, _spread(value))


def _spread(value: str) -> re.Pattern[str] | None:
    """The lines of ``value`` joined by any line end and indentation, or by the escapes
    of one; None for a value of one line (its forms are literal)."""
    lines = _LINE_BREAK.split(value)
    if len(lines) == 1:
        return None
    spread = {_RAW_BREAK.join(map(re.escape, lines))}
    for ascii_only in (False, True):
        escaped = (json.dumps(line, ensure_ascii=ascii_only)[1:-1] for line in lines)
        spread.add(_ESCAPED_BREAK.join(map(re.escape, escaped)))
    return re.compile("|".join(sorted(spread, key=len, reverse=True)))


KNOWN_SECRETS = SecretRegistry()


def redact_text(text: str) -> str:
    """``text`` safe to show or store: known secrets and URL credentials masked.

    Returns ``text`` itself (the same object) when there is nothing to mask, so
    the store's bulk writes copy nothing in the common case.
    """
    text = KNOWN_SECRETS.mask(text)
    if "://" in text and _has_url_credential(text):
        text = _URL.sub(lambda match: mask_url(match.group(0)), text)
    return text


# What is redacted in a stored row is what is redacted in output: one rule.
redact_stored = redact_text

# One query parameter of a URL (its key captured); where a URL's authority ends.
_QUERY_KEY = re.compile(r"[?&;]([^=&;#\s\"'<>]+)=[^&;#\s\"'<>]")
_AUTHORITY_END = re.compile(r"[/?#\s\"'<>]")
_URL_END = re.compile(r"[\s\"'<>]")
# A ``://`` whose authority holds an ``@`` or whose URL holds a ``?`` (the class of
# each is the complement of _AUTHORITY_END's and _URL_END's): only such a URL can have
# userinfo or query parameters, so every other ``://`` is passed over at C speed.
_USERINFO_OR_QUERY = re.compile(r"://(?:[^/?#\s\"'<>@]*+@|[^\s\"'<>?]*+\?)")


def _has_url_credential(text: str) -> bool:
    """Whether some URL in ``text`` has userinfo or a credential query parameter.

    Looks only at the URLs that have an ``@`` in their authority or a ``?``
    (found with one regular expression), so a long document of plain URLs costs
    one scan at C speed.
    """
    found = _USERINFO_OR_QUERY.search(text)
    while found is not None:
        rest = found.start() + 3
        authority = _AUTHORITY_END.search(text, rest)
        if "@" in text[rest : authority.start() if authority else len(text)]:
            return True
        end = _URL_END.search(text, rest)
        url = text[rest : end.start() if end else len(text)]
        if "?" in url and any(is_credential_key(m.group(1)) for m in _QUERY_KEY.finditer(url)):
            return True
        found = _USERINFO_OR_QUERY.search(text, rest)
    return False


def mask_url(url: str, *, every_query_value: bool = False) -> str:
    """A URL with its password (or lone token) and credential query values masked.

    ``every_query_value`` masks every query value (``config show``, where a
    configured URL's query is as likely a credential as not).
    """
    userinfo = _USERINFO.match(url)
    if userinfo:
        masked: str | None
        user, colon, password = userinfo.group(2).partition(":")
        scheme = userinfo.group(1).lower()
        # A user name is no secret, but a lone token (``https://token@``,
        # ``token:@``, ``token:x-oauth-basic@``) is masked whole.
        if colon and password and password.strip("*") == "":
            masked = None  # masked already (``user:****@``, as git's own messages do)
        elif colon and password and password != "x-oauth-basic":
            masked = f"{user}:{MASK}"
        elif scheme.startswith(("http", "https")) or every_query_value:
            masked = MASK
        else:
            masked = None  # ssh://git@host: a user name, nothing secret
        if masked is not None:
            url = f"{userinfo.group(1)}{masked}@{url[userinfo.end() :]}"
    head, mark, query = url.partition("?")
    if not mark:
        return url
    query, hash_, fragment = query.partition("#")
    pairs = []
    for pair in re.split(r"([&;])", query):
        if pair in ("&", ";", ""):
            pairs.append(pair)
            continue
        key, equals, value = pair.partition("=")
        if every_query_value:
            pairs.append(f"{key}={MASK}" if equals else MASK)
        elif equals and value and is_credential_key(key):
            pairs.append(f"{key}={MASK}")
        else:
            pairs.append(pair)
    return f"{head}?{''.join(pairs)}{hash_}{fragment}"


# --- fed by the configuration ------------------------------------------------------


def register_config(config: Config) -> None:
    """Teach :data:`KNOWN_SECRETS` every secret a configuration holds.

    Its secrets are the values of its secret fields (``SecretStr``: tokens,
    passwords, headers, webhook secrets), the credentials of its URLs, and each
    ``${VAR}`` value inside one of those (a password put together from parts).
    Any other ``${VAR}`` value (a path, an organisation) is data: masked
    everywhere, it would rewrite the catalog where it appears (a source id, a
    folder) and even break the YAML written (``sources: **********``).
    """
    secrets = [secret for secret in _secrets_in(config) if secret]
    KNOWN_SECRETS.add_all(secrets)
    KNOWN_SECRETS.add_all(v for v in config._substituted if any(v in s for s in secrets))


def _secrets_in(value: Any) -> Iterable[str]:
    """Every ``SecretStr`` of a model, and the credentials of every URL in its strings."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secrets_in(getattr(value, name))
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _secrets_in(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _secrets_in(inner)
    elif isinstance(value, str) and "://" in value:
        for match in _URL.finditer(value):
            yield from url_credentials(match.group(0))


def url_credentials(url: str) -> list[str]:
    """The password (or lone token) and credential query values of one URL."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    userinfo = parts.netloc.rpartition("@")[0]
    if userinfo:
        user, colon, password = userinfo.partition(":")
        if colon and password and password != "x-oauth-basic":
            found.append(password)
        elif parts.scheme.lower() in ("http", "https"):
            found.append(user)  # a lone token; a user name of ssh:// is no secret
    for pair in re.split(r"[&;]", parts.query):
        key, equals, value = pair.partition("=")
        if equals and value and is_credential_key(key):
            found.append(value)
    return [value for value in found if value]


# --- config show -------------------------------------------------------------------


def redacted(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data, every secret replaced (``config show``).

    ``SecretStr`` fields are masked by their type; every value that ``${VAR}``
    substitution put in is masked wherever it appears; in every URL, the
    userinfo (``user:password@``, ``token@``) and every query value are masked.
    """
    data: dict[str, Any] = config.model_dump(mode="json", by_alias=True)
    values = sorted(config._substituted, key=len, reverse=True)
    result: dict[str, Any] = _config_data(data, values)
    return result


def _config_data(data: Any, values: list[str]) -> Any:
    if isinstance(data, dict):
        return {key: _config_data(value, values) for key, value in data.items()}
    if isinstance(data, list):
        return [_config_data(item, values) for item in data]
    if isinstance(data, str):
        for value in values:
            data = data.replace(value, MASK)
        return _URL.sub(lambda match: mask_url(match.group(0), every_query_value=True), data)
    return data


# --- logs --------------------------------------------------------------------------

_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Make every log record, from trueup or a library, pass through :func:`redact_text`.

    The record factory formats the message (and any traceback) once, redacted,
    so no handler can print the raw arguments. Safe to call more than once.
    """
    with _install_lock:
        previous = logging.getLogRecordFactory()
        if getattr(previous, "redacts", False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        factory.redacts = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """One log record with its message and traceback redacted in place."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a bad format string: keep what can be shown
        message = f"{record.msg!r} {record.args!r}"
    record.msg, record.args = redact_text(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    return record
