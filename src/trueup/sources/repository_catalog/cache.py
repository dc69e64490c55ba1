"""What a repository scope remembers between reads: the last commit and parsed files.

Used by the ``git`` and ``github`` sources to make cost grow with change: a
read at an unchanged head rebuilds the snapshot from here without parsing, and
a new head re-parses only the files whose blob changed. A parse result is a pure
function of (source, scope, blob bytes, path), so keying it by blob sha is
always correct, whatever happened to the store in between; the file is one JSON
document per scope under the source's data folder, replaced atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trueup.model.finding import Finding, JSONValue
from trueup.model.ref import EntityRef
from trueup.sources.descriptors import DescriptorDocument, ParsedDescriptor

_FORMAT = 2  # 2: documents name the files their placeholders read


@dataclass
class ScopeState:
    """The last complete read of one scope.

    ``included`` are the files the include globs matched (path → blob);
    ``files`` every file read, Location targets included; ``parsed`` the parse
    result of each blob read; ``extra`` holds what one source kind needs (the
    github source keeps the repository's metadata there).
    """

    commit: str | None = None
    included: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    parsed: dict[str, ParsedDescriptor] = field(default_factory=dict)
    extra: dict[str, JSONValue] = field(default_factory=dict)


def load_state(path: Path, *, source: str, scope: str) -> ScopeState:
    """The remembered state; an empty one when there is none or it is unreadable."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return ScopeState()
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return ScopeState()
    try:
        return ScopeState(
            commit=data["commit"],
            included=dict(data["included"]),
            files=dict(data["files"]),
            parsed={
                blob: _parsed_from_json(entry, source=source, scope=scope)
                for blob, entry in data["parsed"].items()
            },
            extra=dict(data.get("extra") or {}),
        )
    except (KeyError, TypeError, ValueError):
        return ScopeState()  # a damaged cache costs a re-parse, never wrong data


def save_state(path: Path, state: ScopeState) -> None:
    """Write the state atomically (a temp file renamed over the old one)."""
    live = set(state.files.values())
    data = {
        "format": _FORMAT,
        "commit": state.commit,
        "included": state.included,
        "files": state.files,
        "parsed": {blob: _parsed_to_json(p) for blob, p in state.parsed.items() if blob in live},
        "extra": state.extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    os.replace(temporary, path)


def _parsed_to_json(parsed: ParsedDescriptor) -> dict[str, Any]:
    return {
        "path": parsed.path,
        "ok": parsed.ok,
        "documents": [
            [d.index, d.line, str(d.ref), d.fields, [list(r) for r in d.references]]
            for d in parsed.documents
        ],
        "findings": [f.to_json() for f in parsed.findings],
        "ignored": parsed.ignored,
        "dependencies": [list(d) for d in parsed.dependencies],
    }


def _parsed_from_json(data: Mapping[str, Any], *, source: str, scope: str) -> ParsedDescriptor:
    documents = []
    for index, line, ref, fields, references in data["documents"]:
        kind, _, rest = str(ref).partition(":")
        namespace, _, name = rest.partition("/")
        documents.append(
            DescriptorDocument(
                int(index),
                int(line),
                EntityRef(kind, namespace, name),
                fields,
                tuple((str(f), str(p), str(v)) for f, p, v in references),
            )
        )
    return ParsedDescriptor(
        source=source,
        scope=scope,
        path=str(data["path"]),
        documents=tuple(documents),
        findings=tuple(Finding.from_json(f) for f in data["findings"]),
        ok=bool(data["ok"]),
        ignored=int(data["ignored"]),
        dependencies=tuple(
            (str(p), None if v is None else str(v)) for p, v in data["dependencies"]
        ),
    )
