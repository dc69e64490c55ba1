"""Property tests of the two parsers that read untrusted text: descriptors and the config.

For any input — random text heavy in YAML syntax, generated documents with
anchors, aliases, tags and merge keys, alias bombs, arbitrary bytes — the
descriptor parser returns documents and findings and never raises, and the
config loader returns a configuration or raises ``ConfigError`` and nothing
else. The cost is bounded by the input's size and the parser's limits, not by a
clock: the memory a parse allocates at its peak (``tracemalloc``) stays under a
bound computed from ``MAX_NODES`` and the input's length, and the output holds
at most ``MAX_NODES`` nodes per document and one document per line.

Runs are deterministic (``derandomize``) and leave no example database behind.
"""

from __future__ import annotations

import functools
import tracemalloc
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trueup.config import parse_config
from trueup.errors import ConfigError
from trueup.parse.catalog_yaml import MAX_NODES, Document, load_documents
from trueup.sources.descriptors import parse_descriptor_file

T = TypeVar("T")
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Bytes one parse may allocate at its peak: every node of a full document, plus the input.
NODE_BYTES = 600


def memory_bound(data: bytes | str) -> int:
    return MAX_NODES * NODE_BYTES + 200 * len(data) + 4 * 1024 * 1024


def peak(call: Callable[[], T]) -> tuple[T | BaseException, int]:
    """What ``call`` returned (or raised), and the peak of memory it allocated."""
    tracemalloc.start()
    try:
        result: T | BaseException = call()
    except BaseException as exc:  # examined by the caller
        result = exc
    finally:
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, top


def nodes(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(nodes(v) for v in value.values()) + len(value)
    if isinstance(value, list):
        return 1 + sum(nodes(v) for v in value)
    return 1


# --- inputs ----------------------------------------------------------------------

SYNTAX = st.sampled_from([*"-:{}[],&*!|>'\"#%@`?\\~\t\n ", "\n- ", ": ", "---\n", "..."])
WORDS = st.sampled_from(
    [
        *("a", "name", "kind", "Component", "no", "on", "0777", "1:20", "1e3", ".inf", "~"),
        *("null", "!!python/object/apply:os.system", "!!binary", "!custom", "<<", "&a", "*a"),
        *("apiVersion: backstage.io/v1alpha1\n", "metadata:\n  name: x\n", "\x00", "\ufeff"),
        "\u202e",
    ]
)
RANDOM_TEXT = st.lists(st.one_of(SYNTAX, WORDS, st.text(max_size=4)), max_size=300).map("".join)

TAGS = st.sampled_from(
    ["", "!!str ", "!!int ", "!!map ", "!!seq ", "!!python/name:os.system ", "!x "]
)


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> str:
    """A flow-style YAML node with anchors, aliases, tags and merge keys."""
    anchors: list[str] = draw(st.shared(st.just([]), key="anchors"))
    kind = draw(st.sampled_from(["scalar", "map", "seq", "alias"] if depth < 6 else ["scalar"]))
    tag = draw(TAGS)
    if kind == "alias" and anchors:
        return "*" + draw(st.sampled_from(anchors))
    anchor = ""
    if draw(st.booleans()):
        name = f"a{len(anchors)}"
        anchors.append(name)
        anchor = f"&{name} "
    if kind == "map":
        pairs = draw(
            st.lists(st.tuples(WORDS | st.text(max_size=5), documents(depth + 1)), max_size=4)
        )
        body = ", ".join(f"{_quoted(k)}: {v}" for k, v in pairs)
        if bool(anchors) and draw(st.booleans()):
            body = f"<<: *{draw(st.sampled_from(anchors))}" + (", " + body if body else "")
        return f"{anchor}{tag}{{{body}}}"
    if kind == "seq":
        items = draw(st.lists(documents(depth + 1), max_size=4))
        return f"{anchor}{tag}[{', '.join(items)}]"
    return f"{anchor}{tag}{_quoted(draw(WORDS | st.text(max_size=8)))}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def alias_bomb(width: int, depth: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for level in range(1, depth + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


INPUTS = st.one_of(
    RANDOM_TEXT,
    st.lists(documents(), min_size=1, max_size=3).map("\n---\n".join),
    st.builds(alias_bomb, st.integers(2, 12), st.integers(1, 9)),
    st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
)


# --- properties ---------------------------------------------------------------------


def _bounded_documents(data: bytes | str) -> None:
    result, top = peak(lambda: load_documents(data))
    assert not isinstance(result, BaseException), repr(result)
    assert top <= memory_bound(data), (top, len(data))
    newlines = data.count(b"\n") if isinstance(data, bytes) else data.count("\n")
    assert len(result) <= newlines + 2
    for item in result:
        if isinstance(item, Document):
            assert nodes(item.value) <= 2 * MAX_NODES + 1


@FUZZ
@given(INPUTS)
def test_the_yaml_of_catalog_files_never_raises_and_stays_bounded(text: str) -> None:
    _bounded_documents(text)
    _bounded_documents(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(INPUTS)
def test_the_descriptor_parser_never_raises(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    parsed, top = peak(lambda: parse_descriptor_file(data, source="s", scope="s", path="f.yaml"))
    assert not isinstance(parsed, BaseException), repr(parsed)
    assert top <= memory_bound(data)
    assert parsed.ok or parsed.findings  # a file that failed says why
    for f in parsed.findings:
        assert f.subject == "s:f.yaml" and f.code in ("invalid-file", "invalid-entity")


CONFIG_WORDS = st.sampled_from(
    [
        *("database: ", "sources:\n", "  - ", "id: a", "type: file", "path: x", "${HOME}"),
        *("${NOPE}", "merge: {precedence: {'*': [a]}}\n", "safety: {max_removal_ratio: 2}\n"),
        "\n",
    ]
)


@FUZZ
@given(st.one_of(INPUTS, st.lists(CONFIG_WORDS | SYNTAX, max_size=60).map("".join)))
def test_the_config_loader_raises_config_error_or_nothing_else(text: str) -> None:
    for data in (text, text.encode("utf-8", "surrogatepass")):
        result, top = peak(functools.partial(parse_config, data, "t.yaml", {"HOME": "/h"}))
        if isinstance(result, BaseException):
            assert isinstance(result, ConfigError), repr(result)
            assert str(result).startswith("t.yaml"), str(result)
        assert top <= memory_bound(data)


def test_a_deep_alias_bomb_is_refused_within_its_limits() -> None:
    bomb = alias_bomb(10, 9)  # 10**9 leaves if expanded
    result, top = peak(lambda: load_documents(bomb))
    assert not isinstance(result, BaseException)
    assert [getattr(item, "rule", None) for item in result] == ["node-limit"]
    assert top <= memory_bound(bomb)
