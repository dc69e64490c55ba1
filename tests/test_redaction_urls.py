"""Credentials in URLs are found wherever the URL sits in a text, however many URLs precede it.

The redaction layer looks at a text's URLs only where one has an ``@`` in its
authority or a ``?`` (one regular expression finds them); the oracle here looks
at every ``://`` in turn, as the rule reads.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from trueup.redaction import MASK, is_credential_key, mask_url, redact_text

_AUTHORITY_END = re.compile(r"[/?#\s\"'<>]")
_URL_END = re.compile(r"[\s\"'<>]")
_QUERY_KEY = re.compile(r"[?&;]([^=&;#\s\"'<>]+)=[^&;#\s\"'<>]")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]*")


def _has_credential(text: str) -> bool:
    """The rule, read literally: some ``://`` has userinfo or a credential query key."""
    for found in re.finditer("://", text):
        rest = found.end()
        authority = _AUTHORITY_END.search(text, rest)
        if "@" in text[rest : authority.start() if authority else len(text)]:
            return True
        end = _URL_END.search(text, rest)
        url = text[rest : end.start() if end else len(text)]
        if any(is_credential_key(m.group(1)) for m in _QUERY_KEY.finditer(url)):
            return True
    return False


def test_a_credential_after_many_plain_urls_is_masked() -> None:
    plain = " ".join(f"https://host-{n}/path/a@b?page=1" for n in range(50))  # '@' past the host
    for url, shown in [
        ("https://user:pw@host/x", f"https://user:{MASK}@host/x"),
        ("https://h/s?page=2&token=abc", f"https://h/s?page=2&token={MASK}"),
    ]:
        assert redact_text(f'{plain} "{url}" end') == f'{plain} "{shown}" end'


def test_urls_without_userinfo_or_credential_query_give_back_the_same_text() -> None:
    assert redact_text("ssh://git@host/r.git") == "ssh://git@host/r.git"  # a user name
    plain = 'x "file:///a@b" https://h/p?page=2 url:http://t/e.yaml#a@b'
    assert redact_text(plain) is plain


# Texts made of what the rule looks at: scheme separators, userinfo, queries and URL ends.
PIECES = st.sampled_from(
    [
        *("://", "://h", "https", "ssh", "@", "u:pw@", ":", "/", "/p", "?", "#", "&", ";", "="),
        *("?token=a", "&sig=b", ";key=c", "?page=1", "&x=y", "token", "a", '"', "'", "<", ">"),
        *(" ", "\n", "\t", "\u00a0", "\u2028", "é"),
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join))
def test_a_text_is_masked_exactly_when_some_url_in_it_has_a_credential(text: str) -> None:
    masked = redact_text(text)
    if _has_credential(text):
        assert masked == _URL.sub(lambda m: mask_url(m.group(0)), text)
    else:
        assert masked is text
