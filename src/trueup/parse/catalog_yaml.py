"""Safe YAML for untrusted catalog files (SPEC section 10, research §6).

STUB — the interface is fixed; the implementation is being written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_FILE_BYTES = 1 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed document of a multi-document file (index counts from 0)."""

    index: int
    value: Any
    line: int  # 1-based line where the document starts


@dataclass(frozen=True, slots=True)
class DocumentError:
    """A document (or the whole file, index None) that could not be parsed."""

    index: int | None
    rule: str  # stable rule id, e.g. "yaml-syntax", "duplicate-key", "alias-limit"
    message: str
    line: int | None = None


def load_documents(data: bytes | str) -> list[Document | DocumentError]:
    raise NotImplementedError
