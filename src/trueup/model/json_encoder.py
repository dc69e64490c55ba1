"""A JSON encoder's ``encode`` without its per-call setup.

``json.JSONEncoder.encode`` builds a new C encoder (and a Python closure for
floats the C one never calls) on every call: about a microsecond, more than
encoding a short value takes. :func:`encode_with` builds that C encoder once, with
the same arguments, so it writes exactly the same text. Used for the values
encoded once per entity or more (the stored document, the feed's JSON, the
content hash).
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

_make_encoder = getattr(json.encoder, "c_make_encoder", None)


def encode_with(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode``, the C encoder it builds made once.

    Only for an encoder without ``check_circular`` (the C encoder would keep one
    table of the containers it is in across calls) nor ``indent`` (written by
    Python, not C); for others, and where the C encoder is missing, it is
    ``encoder.encode`` itself.
    """
    if _make_encoder is None or encoder.check_circular or encoder.indent is not None:
        return encoder.encode
    strings = (
        json.encoder.encode_basestring_ascii
        if encoder.ensure_ascii
        else json.encoder.encode_basestring
    )
    try:
        chunks = _make_encoder(
            None,  # no table of the containers being encoded: check_circular is off
            encoder.default,
            strings,
            None,
            encoder.key_separator,
            encoder.item_separator,
            encoder.sort_keys,
            encoder.skipkeys,
            encoder.allow_nan,
        )
    except TypeError:  # a Python whose C encoder takes other arguments: the plain way
        return encoder.encode

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode
