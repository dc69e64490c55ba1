"""The fast YAML writer reads back as exactly its input, under YAML 1.1 and 1.2 readers."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from trueup.parse.catalog_yaml import Document, load_documents
from trueup.yaml_text import dump_document, dump_documents

TRICKY = [
    "",
    " ",
    "no",
    "No",
    "NO",
    "on",
    "off",
    "yes",
    "y",
    "n",
    "true",
    "False",
    "null",
    "Null",
    "~",
    "1:20",
    "0777",
    "0x1F",
    "1e3",
    ".5",
    "+1",
    "-1",
    "2024-01-01",
    "12:30:45",
    ".inf",
    "nan",
    "a: b",
    "a:b",
    "x:",
    "#x",
    "a #b",
    "- a",
    "-",
    "?",
    "? x",
    ":",
    "@x",
    "`x",
    "%x",
    "!x",
    "&x",
    "*x",
    "|x",
    ">x",
    "'q'",
    '"dq"',
    "[a]",
    "{a}",
    "a,b",
    "a, b",
    "a  b",
    "trailing ",
    " lead",
    "multi\nline",
    "ends\n",
    "\nstarts",
    "two\n\nblank",
    "tab\there",
    "cr\r\nlf",
    "\u2028",
    "\u0085",
    "\ufeffbom",
    "ü",
    "日本",
    "😀",
    "backstage.io/kubernetes-id",
    "url:https://x.y/z?a=1",
    "C++",
    "key: value\n",
    "  indented\nlines",
    "---",
    "...",
    "--- x",
    "a\\b",
    "\x07bell",
    "<<",
]


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 3 and roll < 0.2:
        return {rng.choice(TRICKY) or "k": value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    if depth < 3 and roll < 0.35:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    choice = rng.random()
    if choice < 0.6:
        return rng.choice(TRICKY)
    if choice < 0.7:
        return rng.randint(-(10**12), 10**12)
    if choice < 0.8:
        return rng.choice([0.0, -1.5, 3.25, 1e20, 1e-7, float("inf"), 2.5e-300])
    if choice < 0.9:
        return rng.choice([True, False])
    return None


@pytest.mark.parametrize("seed", range(20))
def test_round_trip_under_both_readers(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        doc = {"apiVersion": "backstage.io/v1alpha1", "data": value(rng)}
        text = dump_document(doc)
        assert yaml.load(text, Loader=yaml.CSafeLoader) == doc, text
        parsed = load_documents(text)
        assert len(parsed) == 1 and isinstance(parsed[0], Document), (text, parsed)
        assert parsed[0].value == doc, text


def test_multi_document_output() -> None:
    docs: list[dict[str, object]] = [{"a": "no"}, {"b": ["x", {"c": None}]}, {"d": {}}]
    text = dump_documents(docs)
    assert list(yaml.safe_load_all(text)) == docs
    assert [d.value for d in load_documents(text) if isinstance(d, Document)] == docs


def test_an_empty_document_and_empty_blocks_keep_their_text() -> None:
    assert dump_document({}) == "\n"
    assert dump_document({"a": [{}, {"b": {}}, [], {"c": "d"}], "e": {"f": {"g": []}}}) == (
        "a:\n  - {}\n  - b: {}\n  - []\n  - c: d\ne:\n  f:\n    g: []\n"
    )
