"""What a configuration may show: ``trueup config show`` with every secret masked.

``SecretStr`` fields are masked by their type; every value that ``${VAR}``
substitution put into the configuration is masked wherever it appears; in every
URL, the userinfo (``user:password@``, ``token@``) and the query values are
masked. Called by the CLI (and later the server's config endpoint).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trueup.config import Config

MASK = "**********"
# A URL anywhere in a string: ``scheme://`` and everything up to whitespace.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s]*")
# A URL's userinfo: everything up to the last ``@`` before the host's end.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s]*)@")


def redacted(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data, every secret replaced.

    ``SecretStr`` fields are masked by their type; every value that ``${VAR}``
    substitution put in is masked wherever it appears; in every URL, the
    userinfo (``user:password@``, ``token@``) and the query values are masked.
    """
    data: dict[str, Any] = config.model_dump(mode="json", by_alias=True)
    # Longest first, so that a value containing another is masked whole.
    values = sorted(config._substituted, key=len, reverse=True)
    result: dict[str, Any] = _redact_data(data, values)
    return result


def _redact_data(data: Any, values: list[str]) -> Any:
    if isinstance(data, dict):
        return {key: _redact_data(value, values) for key, value in data.items()}
    if isinstance(data, list):
        return [_redact_data(item, values) for item in data]
    if isinstance(data, str):
        for value in values:
            data = data.replace(value, MASK)
        return _URL.sub(lambda match: _redact_url(match.group(0)), data)
    return data


def _redact_url(url: str) -> str:
    """Mask a URL's userinfo and query values; the rest stays readable."""
    userinfo = _USERINFO.match(url)
    if userinfo:
        user, colon, password = userinfo.group(2).partition(":")
        # A user name is no secret, but a lone token (``token@``, ``token:@``,
        # ``token:x-oauth-basic@``) is masked whole.
        token = not colon or not password or password == "x-oauth-basic"
        masked = MASK if token else f"{user}:{MASK}"
        url = f"{userinfo.group(1)}{masked}@{url[userinfo.end() :]}"
    head, mark, query = url.partition("?")
    if not mark:
        return url
    query, hash_, fragment = query.partition("#")
    pairs = []
    for pair in re.split(r"([&;])", query):
        if pair in ("&", ";", ""):
            pairs.append(pair)
        else:
            key, equals, _ = pair.partition("=")
            pairs.append(f"{key}={MASK}" if equals else MASK)
    return f"{head}?{''.join(pairs)}{hash_}{fragment}"
