"""Safe YAML for untrusted catalog files (test plan rows 20-25).

Scalar values in the tables were checked against Backstage's parser, npm
``yaml`` 2.x (``parseDocument(...).toJS()``, YAML 1.2 core schema).
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest

import trueup
from trueup.model.validation import validate_entity
from trueup.parse.catalog_yaml import (
    MAX_FILE_BYTES,
    Document,
    DocumentError,
    load_documents,
)


def value_of(text: str | bytes) -> Any:
    """The single document of ``text``, which must parse."""
    [document] = load_documents(text)
    assert isinstance(document, Document), document
    return document.value


def error_of(text: str | bytes, **limits: Any) -> DocumentError:
    """The single error of ``text``, which must fail."""
    results = load_documents(text, **limits)
    errors = [r for r in results if isinstance(r, DocumentError)]
    assert len(errors) == 1, results
    return errors[0]


# --- YAML 1.2 core schema, strings as written (row 23) ---


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("no", "no"),
        ("No", "No"),
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("tRue", "tRue"),
        ("false", False),
        ("FALSE", False),
        ("null", None),
        ("NULL", None),
        ("nULL", "nULL"),
        ("~", None),
        ("", None),
        ("0777", 777),
        ("007", 7),
        ("-0", 0),
        ("+1", 1),
        ("0o17", 15),
        ("0O17", "0O17"),
        ("0x1F", 31),
        ("0X1F", "0X1F"),
        ("0xg", "0xg"),
        ("0b101", "0b101"),
        ("1_000", "1_000"),
        ("1:20", "1:20"),
        ("2024-01-01", "2024-01-01"),
        ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("-1e-3", -0.001),
        ("1.", 1.0),
        (".5", 0.5),
        ("1.5", 1.5),
        ("1e", "1e"),
        ("e3", "e3"),
        (".", "."),
        ("-", "-"),  # flow context only: in block context "- " starts a sequence
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("+.INF", math.inf),
        ("inf", "inf"),
        ("1,000", "1,000"),
        ("<<", "<<"),
        ("v1.2.3", "v1.2.3"),
    ],
)
def test_plain_scalars(scalar: str, expected: object) -> None:
    value = value_of(f"k: [{scalar}]" if scalar == "-" else f"k: {scalar}")["k"]
    value = value[0] if scalar == "-" else value
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("nan", [".nan", ".NaN", ".NAN"])
def test_nan(nan: str) -> None:
    assert math.isnan(value_of(f"k: {nan}")["k"])


def test_catalog_values_stay_as_written() -> None:
    """The file from test plan row 23: ``owner: no`` is the string "no", never False."""
    text = "owner: no\nlifecycle: on\nversion: 0777\nport: 1:20\ndate: 2024-01-01\nscale: 1e3\n"
    assert value_of(text) == {
        "owner": "no",
        "lifecycle": "on",
        "version": 777,
        "port": "1:20",
        "date": "2024-01-01",
        "scale": 1000.0,
    }


def test_owner_no_is_a_valid_owner() -> None:
    text = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payments}
spec: {type: service, lifecycle: on, owner: no}
"""
    assert validate_entity(value_of(text)) == []


@pytest.mark.parametrize(
    "text",
    ["k: 'no'", 'k: "0777"', "k: |\n  true\n", "k: >\n  ~\n", "k: ! 12", "k: !!str 1e3"],
)
def test_quoted_block_and_str_tagged_scalars_are_strings(text: str) -> None:
    assert isinstance(value_of(text)["k"], str)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('k: !!int "12"', 12),
        ("k: !!int 0x10", 16),
        ("k: !!float 1", 1.0),
        ("k: !!bool true", True),
        ("k: !!null ~", None),
        ("k: !!str ~", "~"),
        ("k: !!map {a: 1}", {"a": 1}),
        ("k: !!seq [a]", ["a"]),
        ("%TAG !e! tag:yaml.org,2002:\n---\nk: !e!str 5", "5"),
        ("k: !<tag:yaml.org,2002:int> 7", 7),
    ],
)
def test_core_tags_are_allowed(text: str, expected: object) -> None:
    assert value_of(text)["k"] == expected


@pytest.mark.parametrize(
    "text", ["k: !!int abc", "k: !!bool yes", "k: !!null x", "k: !!map x", "k: !!str {a: 1}"]
)
def test_core_tag_on_the_wrong_value(text: str) -> None:
    assert error_of(text).rule == "tag-mismatch"


# --- tags that would build objects (row 24) ---


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("k: !!python/object/apply:os.system ['true']", "!!python/object/apply:os.system"),
        ("k: !!python/name:os.system ''", "!!python/name:os.system"),
        ("k: !!python/tuple [1]", "!!python/tuple"),
        ("k: !custom x", "!custom"),
        ("k: !!binary aGk=", "!!binary"),
        ("k: !!timestamp 2024-01-01", "!!timestamp"),
        ("k: !!set {a}", "!!set"),
        ("k: !!omap [a: 1]", "!!omap"),
        ("k: !<tag:example.com,2024:x> x", "tag:example.com,2024:x"),
    ],
)
def test_forbidden_tags_are_refused_by_name(text: str, shown: str) -> None:
    error = error_of(text)
    assert (error.rule, error.index, error.line) == ("forbidden-tag", 0, 1)
    assert shown in error.message


def test_code_execution_tag_runs_nothing(tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    text = f"""
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: !!python/object/apply:os.system ['touch {canary}']
  other: !!python/object/new:os.system ['touch {canary}']
"""
    assert error_of(text).rule == "forbidden-tag"
    assert not canary.exists()


# --- keys (row 22) ---


def test_duplicate_metadata_name_is_rejected() -> None:
    text = "apiVersion: backstage.io/v1alpha1\nmetadata:\n  name: a\n  name: b\n"
    error = error_of(text)
    assert (error.rule, error.index, error.line) == ("duplicate-key", 0, 4)
    assert "'name'" in error.message


@pytest.mark.parametrize(
    "text",
    ["spec:\n  owner: a\n  owner: a\n", "{a: 1, a: 1}", "1: a\n'1': b\n", "<<: a\n<<: b\n"],
)
def test_duplicate_keys_are_rejected(text: str) -> None:
    assert error_of(text).rule == "duplicate-key"


@pytest.mark.parametrize(
    "text", ["? [a]\n: b\n", "? {a: 1}\n: b\n", "{[a]: b}", "x: &m {a: 1}\ny: {*m : 1}\n"]
)
def test_mapping_keys_must_be_scalars(text: str) -> None:
    assert error_of(text).rule == "complex-key"


def test_keys_become_strings_as_in_backstage_json() -> None:
    text = "8080: a\ntrue: b\n~: c\n1.5: d\n1e3: e\n.inf: f\n"
    assert list(value_of(text)) == ["8080", "true", "", "1.5", "1000", "Infinity"]


def test_merge_keys_are_not_applied() -> None:
    text = "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n"
    assert value_of(text)["other"] == {"<<": {"x": 1}, "y": 2}


def test_aliases_are_copies() -> None:
    value = value_of("a: &x {k: [1]}\nb: *x\nc: &s text\nd: *s\n")
    assert value["a"] == value["b"] and value["a"] is not value["b"]
    value["b"]["k"].append(2)
    assert value["a"] == {"k": [1]}
    assert value["d"] == "text"


def test_undefined_alias_is_an_error() -> None:
    assert error_of("a: *nowhere\n").rule == "yaml-syntax"


def test_an_anchor_cannot_refer_to_itself() -> None:
    assert error_of("a: &x [*x]\n").rule == "yaml-syntax"


# --- bounds (rows 20, 21) ---


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["lol0: &lol0 " + "[" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*lol{level - 1}"] * width)
        lines.append(f"lol{level}: &lol{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_fails_fast() -> None:
    text = billion_laughs()
    assert len(text) < 1024
    started = time.perf_counter()
    error = error_of(text)
    assert error.rule in ("alias-limit", "node-limit")
    assert time.perf_counter() - started < 2


def test_alias_limit() -> None:
    ok = "a: &a x\nl: [" + ", ".join(["*a"] * 100) + "]\n"
    assert len(value_of(ok)["l"]) == 100
    error = error_of(ok.replace("[", "[*a, "))
    assert (error.rule, error.line) == ("alias-limit", 2)


def test_node_limit_counts_aliases_at_their_expanded_size() -> None:
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [*a, *a, *a, *a, *a]\n"  # 64 nodes expanded
    assert value_of(text)["b"][4] == list(range(1, 10))
    assert load_documents(text, max_nodes=64)[0] == Document(0, value_of(text), 1)
    assert error_of(text, max_nodes=63).rule == "node-limit"


def test_node_limit_on_a_long_flat_list() -> None:
    text = "k: [" + "1," * 100_000 + "]"
    assert error_of(text).rule == "node-limit"


@pytest.mark.parametrize("flow", [True, False])
def test_depth_limit(flow: bool) -> None:
    def nested(depth: int) -> str:
        if flow:
            return "k: " + "[" * (depth - 1) + "]" * (depth - 1)
        return "".join(" " * i + "k:\n" for i in range(depth - 1)) + " " * (depth - 1) + "k: v\n"

    assert isinstance(load_documents(nested(64))[0], Document)
    assert error_of(nested(65)).rule == "depth-limit"


def test_100k_nested_brackets_do_not_crash() -> None:
    started = time.perf_counter()
    results = load_documents("[" * 100_000)
    assert [r.rule for r in results if isinstance(r, DocumentError)] in (
        ["depth-limit"],
        ["yaml-syntax"],  # libyaml stops at 1,000 levels while scanning ahead
    )
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("kind", [bytes, str])
def test_a_file_over_the_default_64_mib_cap_is_refused_before_parsing(kind: type) -> None:
    assert MAX_FILE_BYTES == 64 * 1024 * 1024  # generated catalogs of tens of MB are read
    text = "a: " + "x" * MAX_FILE_BYTES
    data: bytes | str = text.encode() if kind is bytes else text
    started = time.perf_counter()
    assert load_documents(data) == [
        DocumentError(None, "file-too-large", f"file is {len(data)} bytes, over the 67108864 cap")
    ]
    assert time.perf_counter() - started < 1


def test_file_size_cap_is_inclusive_and_configurable() -> None:
    cap = 1024 * 1024
    text = "a: " + "x" * (cap - 3)
    assert isinstance(load_documents(text, max_file_bytes=cap)[0], Document)
    assert error_of(text + "x", max_file_bytes=cap).rule == "file-too-large"
    assert error_of("a: bc", max_file_bytes=4).rule == "file-too-large"


# --- encoding ---


def test_bytes_are_utf8_with_an_optional_bom() -> None:
    assert load_documents("name: café\n".encode()) == [Document(0, {"name": "café"}, 1)]
    assert load_documents(b"\xef\xbb\xbfa: 1\n") == [Document(0, {"a": 1}, 1)]


@pytest.mark.parametrize("data", [b"a: \xff\n", b"\xff\xfea\x00", "a: \ud800"])
def test_bad_encoding_is_a_whole_file_error(data: bytes | str) -> None:
    error = error_of(data)
    assert (error.index, error.rule) == (None, "encoding")


def test_control_characters_are_a_syntax_error_with_a_line() -> None:
    error = error_of("a: 1\nb: \x07\n")
    assert (error.rule, error.line) == ("yaml-syntax", 2)


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ('spec:\n  owner: "team\\0a"\n', "spec.owner", 2),
        ('metadata: {description: "a\\x00b"}', "metadata.description", 1),
        ('spec:\n  tags: [ok, "x\\u0000"]\n', "spec.tags[1]", 2),
        (
            'metadata:\n  annotations:\n    "ex.io/a\\0b": v\n',
            "metadata.annotations.ex.io/a\\0b",
            3,
        ),
        ('a: !!str "\\0"\n', "a", 1),
        ('a: &x "\\0"\nb: *x\n', "a", 1),
    ],
)
def test_a_nul_in_a_key_or_value_refuses_the_document_naming_the_field(
    text: str, field: str, line: int
) -> None:
    error = error_of(text)
    assert (error.rule, error.index, error.line, error.field) == ("nul-character", 0, line, field)
    assert "\0" not in error.message and field in error.message


def test_a_nul_spoils_only_its_document() -> None:
    results = load_documents('a: 1\n---\nb: "\\0"\n---\nc: 3\n')
    assert results == [
        Document(0, {"a": 1}, 1),
        DocumentError(
            1, "nul-character", "b holds a NUL character (U+0000), which cannot be stored", 3, "b"
        ),
        Document(2, {"c": 3}, 4),
    ]


# --- documents (row 25) ---


def test_three_documents_with_the_second_invalid() -> None:
    text = "a: 1\n---\nb: 1\nb: 2\n---\nc: 3\n"
    assert load_documents(text) == [
        Document(0, {"a": 1}, 1),
        DocumentError(1, "duplicate-key", "duplicate key 'b'", 4),
        Document(2, {"c": 3}, 5),
    ]


def test_a_forbidden_tag_spoils_only_its_document() -> None:
    text = "a: 1\n---\nb: !!python/name:os.system x\n---\nc: 3\n"
    results = load_documents(text)
    assert [(type(r).__name__, r.index) for r in results] == [
        ("Document", 0),
        ("DocumentError", 1),
        ("Document", 2),
    ]


def test_null_documents_are_skipped() -> None:
    assert load_documents("a: 1\n---\n") == [Document(0, {"a": 1}, 1)]
    assert load_documents("---\n---\n~\n--- # comment\n") == []
    assert load_documents("") == []
    assert load_documents("# only a comment\n") == []


def test_indexes_and_lines_count_every_document_in_the_file() -> None:
    text = "# header\n---\n---\na: 1\n...\n---\n\n# c\nb: 2\n"
    assert load_documents(text) == [Document(1, {"a": 1}, 3), Document(2, {"b": 2}, 6)]


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n", "array"), ("hello\n", "string"), ("42\n", "number")]
)
def test_root_must_be_a_mapping(text: str, got: str) -> None:
    assert load_documents("a: 1\n---\n" + text) == [
        Document(0, {"a": 1}, 1),
        DocumentError(1, "not-a-mapping", f"Expected object at root, got {got}", 2),
    ]


def test_a_syntax_error_spoils_only_its_document() -> None:
    """libyaml stops at a syntax error; parsing starts again at the next ``---`` line,
    so the documents after the broken one are read (as Backstage reads them)."""
    text = "a: 1\n---\nb: [1,\n---\nc: 3\n---\nd: e: f\n---\n\n# x\ng: [*h, 1]\ng: 2\n"
    results = load_documents(text)
    assert [r for r in results if isinstance(r, Document)] == [
        Document(0, {"a": 1}, 1),
        Document(2, {"c": 3}, 4),
    ]
    errors = [(r.index, r.rule, r.line) for r in results if isinstance(r, DocumentError)]
    assert errors == [(1, "yaml-syntax", 4), (3, "yaml-syntax", 7), (4, "yaml-syntax", 11)]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_documents_after_a_syntax_error_keep_their_file_lines(newline: str) -> None:
    lines = ["a: 1", "---", 'b: "open', "---", "c: 3", "c: 4", "---", "# e", "e: [5", "---", "f: 6"]
    results = load_documents((newline.join(lines) + newline).encode())
    assert [(type(r).__name__, r.index, r.line) for r in results] == [
        ("Document", 0, 1),
        ("DocumentError", 1, 4),
        ("DocumentError", 2, 6),  # a rule broken after a resume: the line in the file
        ("DocumentError", 3, 10),
        ("Document", 4, 10),
    ]


def test_a_marker_inside_the_broken_document_is_where_parsing_resumes() -> None:
    """An unclosed quote or flow ends at the next marker: that marker begins the next
    document; a broken document's own marker is never read again."""
    assert load_documents("--- [\n--- {a: 1}\n")[1] == Document(1, {"a": 1}, 2)
    results = load_documents("--- !!str [x\n---\n")  # a rule, then a syntax error: one error
    assert [(type(r).__name__, r.index, getattr(r, "rule", None)) for r in results] == [
        ("DocumentError", 0, "tag-mismatch")
    ]


def test_syntax_error_in_the_first_document() -> None:
    error = error_of("a: b: c\n")
    assert (error.index, error.rule, error.line) == (0, "yaml-syntax", 1)


def test_never_raises() -> None:
    """Random bytes and YAML-ish fragments come back as values, never exceptions."""
    rng = random.Random(20)
    pieces = ["a", ":", " ", "\n", "-", "[", "]", "{", "}", "&x", "*x", "!!", "!t", "'", '"', "#"]
    pieces += ["---", "...", "?", "|", ">", "\t", "%YAML 1.2", "<<", "\\", ",", "\x00", "é"]
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        assert isinstance(load_documents(text), list)
        assert isinstance(load_documents(rng.randbytes(rng.randint(0, 40))), list)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k: " + "9" * 308, int("9" * 308)),
        ("k: -" + "9" * 309, -math.inf),
        ("k: " + "1" * 5000, math.inf),
        ("k: +" + "0" * 5000 + "1", 1),
        ("k: 0x" + "f" * 5000, math.inf),
        ("k: 0o" + "7" * 5000, math.inf),
        ("? 0x" + "f" * 5000 + "\n: k\n", "k"),
    ],
    ids=[
        "308-digits",
        "-309-digits",
        "5000-digits",
        "leading-zeros",
        "huge-hex",
        "huge-octal",
        "key",
    ],
)
def test_huge_numbers_end_as_javascript_would_see_them(text: str, expected: object) -> None:
    """Past a double's range a number is infinite, as in JavaScript; never a 5,000-digit int."""
    value = value_of(text)
    assert value.get("k", value.get("Infinity")) == expected


def test_the_code_base_never_loads_yaml_unsafely() -> None:
    """Row 24: no full_load, unsafe_load or plain Loader anywhere in trueup."""
    unsafe = re.compile(
        r"full_load|unsafe_load|UnsafeLoader|FullLoader|yaml\.Loader\b|yaml\.load(_all)?\((?![^)]*Safe)"
    )
    root = Path(trueup.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if unsafe.search(line)
    ]
    assert offenders == []


def test_documents_are_handed_over_one_at_a_time_so_memory_follows_one_document() -> None:
    import tracemalloc

    from trueup.parse.catalog_yaml import iter_documents

    one = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: n{i}\n"
    data = "---\n".join(one.format(i=i) for i in range(5_000)).encode()
    documents = iter_documents(data)
    assert next(documents) == Document(0, {**value_of(one.format(i=0))}, 1)

    def peak(consume: Any) -> int:
        tracemalloc.start()
        try:
            consume()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    streamed = peak(lambda: sum(1 for _ in iter_documents(data)))
    held = peak(lambda: load_documents(data))
    assert streamed * 4 < held  # one document at a time, not every document's tree


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n" + "k" * 200_000 + ": 1\n" + "k" * 200_000 + ": 2\n",  # duplicate key
        "a: !" + "t" * 200_000 + " x\n",  # forbidden tag
        "a: !!int " + "z" * 200_000 + "\n",  # not a valid !!int
    ],
)
def test_a_message_quotes_a_long_key_tag_or_value_cut_short(text: str) -> None:
    # A finding message is shown, stored and served: a 200 kB key must not make it 200 kB.
    error = error_of(text)
    assert len(str(error)) < 400, str(error)[:200]


@pytest.mark.parametrize("bad", ["\x01", "\x7f", "\x9f", "\ufffe"])
@pytest.mark.parametrize("as_bytes", [True, False])
def test_a_character_yaml_forbids_fails_its_document_alone(bad: str, as_bytes: bool) -> None:
    # libyaml checks characters a buffer ahead of the parser: a control character near
    # the end of a long file failed the document being parsed, far before it, and every
    # document in between was lost without a word.
    documents = [f"kind: Component\nmetadata:\n  name: c{i}\n" for i in range(3000)]
    text = "---\n".join(documents).replace("name: c2990\n", f"name: c2990{bad}\n")
    results = load_documents(text.encode() if as_bytes else text)
    errors = [r for r in results if isinstance(r, DocumentError)]
    assert [(e.index, e.rule, e.line) for e in errors] == [(2990, "yaml-syntax", 2990 * 4 + 3)]
    names = [r.value["metadata"]["name"] for r in results if isinstance(r, Document)]
    assert names == [f"c{i}" for i in range(3000) if i != 2990]


def test_a_forbidden_character_in_the_first_and_last_documents() -> None:
    text = "a: \x01\n---\nb: 1\n---\nc: \x02\n"
    results = load_documents(text.encode())
    assert [(r.index, type(r).__name__) for r in results] == [
        (0, "DocumentError"),
        (1, "Document"),
        (2, "DocumentError"),
    ]


def test_a_json_writers_surrogate_pair_escape_is_the_character_it_stands_for() -> None:
    # Python's json.dumps (ensure_ascii) writes 🚀 as \ud83d\ude80: valid YAML to
    # Backstage's reader, which joins the pair; libyaml alone refuses it.
    text = json.dumps({"kind": "Component", "metadata": {"description": "ships \U0001f680"}})
    assert "\\ud83d\\ude80" in text
    assert value_of(text)["metadata"]["description"] == "ships \U0001f680"
    assert value_of(text.encode())["metadata"]["description"] == "ships \U0001f680"
    # Not an escape outside a double-quoted scalar, nor after an escaped backslash.
    assert value_of("k: plain \\ud83d\\ude80\n") == {"k": "plain \\ud83d\\ude80"}
    assert value_of('k: "a \\\\ud83d\\\\ude80"\n') == {"k": "a \\ud83d\\ude80"}


@pytest.mark.parametrize(
    "char", [chr(c) for c in (*range(0x100), 0xFEFF, 0xFFFD, 0xFFFE, 0xFFFF, 0x10FFFF)]
)
def test_bytes_and_text_find_the_same_forbidden_characters(char: str) -> None:
    # Bytes skip the search for a forbidden character when they hold no byte one starts
    # with; text is searched as it is. Both must agree on every character.
    text = f"a: 1\n---\nb: x{char}y\n---\nc: 1\n"
    assert load_documents(text.encode("utf-8")) == load_documents(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a:\n  b: [1, {c: 2}]\n  "d\\0": 1\n', ("nul-character", 3, "a.d\\0")),
        ('a:\n  - x\n  - {y: "z\\0"}\n', ("nul-character", 3, "a[1].y")),
        ('a: {b: {c: 1}}\ne: ["\\0"]\n', ("nul-character", 2, "e[0]")),
        ("x: &m {a: 1}\ny:\n  z: 1\n  *m : 2\n", ("complex-key", 4, None)),
        ("x: &s [1, 2]\ny: [*s, *s, {k: *s}]\n", ("node-limit", 2, None)),
    ],
)
def test_a_rule_broken_after_closed_collections_names_the_right_place(
    text: str, expected: tuple[str, int, str | None]
) -> None:
    # The builder keeps the innermost open collection apart from its frames: the field
    # path, the key an alias stands in for, and the node count must still be right.
    error = error_of(text, max_nodes=12)
    assert (error.rule, error.line, error.field) == expected


def test_an_alias_to_a_scalar_is_a_key_as_its_text() -> None:
    assert value_of("a: &v 1\n*v : 2\n") == {"a": 1, "1": 2}
