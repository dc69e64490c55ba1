"""A ``%YAML 1.1`` directive: trueup refuses exactly the scalars Backstage reads otherwise.

Backstage's npm ``yaml`` reads a document under a ``%YAML 1.1`` directive (and the
file's later documents) with its YAML 1.1 schema; trueup reads YAML 1.2 and refuses
such a document when one of its plain scalars reads otherwise (:mod:`trueup.parse.yaml11`).
The oracle here is the harness's own ``yaml`` package, the one the catalog parses with:
each scalar is read by it with and without the directive, and trueup must refuse it
exactly when the two readings differ.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
from typing import Any

from tests.backstage.harness import HARNESS_DIR, require_harness
from trueup.parse.catalog_yaml import Document, load_documents
from trueup.sources.descriptors import parse_descriptor_file


def _words(text: str) -> list[str]:
    return text.split()


SCALARS = [
    # booleans of YAML 1.1 only, and those both know
    *_words("y Y yes Yes YES n N no No NO on On ON off Off OFF true True false FALSE"),
    # nulls and infinities, alike
    *_words("~ null Null NULL .inf -.Inf +.INF .nan .NaN"),
    # integers: octal, binary, underscores, signs, hex
    *_words("0 00 07 08 0777 -0777 +0777 0o17 0b101 -0b11 1_000 0x1F 0x1f_ff -0x1F +12 -12"),
    # floats: exponents, dots, underscores
    *_words("1e3 1E3 1.5e-3 -2.5 +2.5 .5 5. 1_0.5 e5 .e5 . 1.e5 6.8523015e+5"),
    # sexagesimal and dates; the merge key, which the catalog does not merge (merge: false)
    *_words("1:20 190:20:30 -1:30 1:20.5 12:60 2001-12-14 2001-12-14t21:59:43.10-05:00 <<"),
    # strings under both
    *_words("yess onion nothing production team-a v1.2.3 1.2.3 1-2 0x 0b 0xG --1"),
]

_READ_BOTH = """
const yaml = require('yaml');
const out = [];
for (const text of JSON.parse(process.argv[1])) {
  const read = (source) => {
    const docs = yaml.parseAllDocuments(source, { merge: false }); // as the catalog parses
    const value = docs[0].toJSON();
    return docs[0].errors.length ? null : JSON.stringify(value);
  };
  out.push([read('x: ' + text + '\\n'), read('%YAML 1.1\\n---\\nx: ' + text + '\\n')]);
}
console.log(JSON.stringify(out));
"""


def _run_node(script: str, texts: list[str]) -> Any:
    """What ``script`` prints, run by the harness's node with ``texts`` as its argument."""
    done = subprocess.run(
        [require_harness(), "-e", script, json.dumps(texts)],
        cwd=HARNESS_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def _npm_readings() -> list[tuple[str | None, str | None]]:
    return [tuple(pair) for pair in _run_node(_READ_BOTH, SCALARS)]


def test_a_scalar_is_refused_exactly_when_backstage_reads_it_otherwise_under_1_1() -> None:
    readings = _npm_readings()
    disagreements = []
    for text, (as_12, as_11) in zip(SCALARS, readings, strict=True):
        assert as_12 is not None, text  # every scalar is valid YAML 1.2
        differs = as_11 != as_12
        (result,) = load_documents(f"%YAML 1.1\n---\nx: {text}\n")
        assert isinstance(result, Document)
        assert _same(result.value["x"], json.loads(as_12)["x"]), text  # read as YAML 1.2
        refused = result.otherwise
        if (refused is not None) != differs:
            disagreements.append((text, as_12, as_11, result))
        if refused is not None:
            assert (refused.rule, refused.field, refused.line) == ("yaml-1.1", "x", 3)
            assert refused.message.startswith(f"x: {text!r} is read as ")
    assert disagreements == []


def _same(value: object, javascript: object) -> bool:
    """Whether trueup's reading is the value ``JSON.stringify`` wrote (an infinity or NaN
    is written null; a number is a number, whether int or float)."""
    if isinstance(value, float) and not math.isfinite(value):
        return javascript is None
    if isinstance(value, bool) or isinstance(javascript, bool):
        return value is javascript
    return type(value) is type(javascript) or (
        (isinstance(value, int | float) and isinstance(javascript, int | float))
        and value == javascript
    )


def test_without_the_directive_nothing_is_refused() -> None:
    for text in SCALARS:
        (result,) = load_documents(f"x: {text}\n")
        assert isinstance(result, Document), text
        assert result.otherwise is None, text


_READ_FILES = """
const yaml = require('yaml');
const out = [];
for (const source of JSON.parse(process.argv[1])) {
  out.push(yaml.parseAllDocuments(source, { merge: false }).map((d) => JSON.stringify(d.toJSON())));
}
console.log(JSON.stringify(out));
"""

FILES = [
    # the directive holds for the later documents, even past an explicit end "..."
    "%YAML 1.1\n---\na: 1\n---\nb: yes\n...\n---\nc: no\n",
    # a later %YAML 1.2 directive ends it
    "%YAML 1.1\n---\na: on\n...\n%YAML 1.2\n---\nb: on\n",
    # keys, nested fields and sequences; quoted scalars are strings under both
    "%YAML 1.1\n---\nmetadata:\n  name: a\n  tags: [web, off]\n",
    "%YAML 1.1\n---\nspec:\n  yes: 1\n",
    "%YAML 1.1\n---\nspec:\n  owner: 'no'\n  port: \"0777\"\n  list: [a, 'on']\n",
]


def test_which_documents_of_a_file_the_directive_changes_is_backstages() -> None:
    read_by_backstage = _run_node(_READ_FILES, FILES)
    refused = []
    for source, documents in zip(FILES, read_by_backstage, strict=True):
        results = load_documents(source)
        assert len(results) == len(documents), source
        for result, as_backstage in zip(results, documents, strict=True):
            assert isinstance(result, Document)
            if result.otherwise is not None:
                refused.append((result.index, result.otherwise.field))
            else:
                assert result.value == json.loads(as_backstage), source
    assert refused == [(1, "b"), (2, "c"), (0, "a"), (0, "metadata.tags[1]"), (0, "spec.yes")]


SURICATA = """%YAML 1.1
---
default-log-dir: /var/log/suricata
af-packet:
  - interface: eth0
    use-mmap: yes
"""

ENTITIES = """%YAML 1.1
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: quoted
spec: {type: service, lifecycle: production, owner: 'no'}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: plain
spec: {type: service, lifecycle: production, owner: no}
"""


def test_a_file_source_refuses_the_entity_backstage_reads_otherwise_and_ignores_the_rest() -> None:
    other = parse_descriptor_file(SURICATA.encode(), source="s", scope="s", path="suricata.yaml")
    assert (other.ignored, list(other.findings), other.ok) == (1, [], True)  # no entity: no finding

    parsed = parse_descriptor_file(ENTITIES.encode(), source="s", scope="s", path="c.yaml")
    assert [d.ref.name for d in parsed.documents] == ["quoted"]
    assert parsed.documents[0].fields["spec.owner"] == "no"
    (refused,) = parsed.findings
    assert refused.code == "invalid-entity"  # as a broken rule: it keeps its last good state
    assert refused.evidence["entity"] == "Component:default/plain"
    assert (refused.evidence["rule"], refused.evidence["field"]) == ("yaml-1.1", "spec.owner")
    assert (refused.evidence["document"], refused.evidence["line"]) == (1, 13)
    assert "'no' is read as false under the file's %YAML 1.1 directive" in refused.message
    assert parsed.ok  # Backstage reads the file: only this entity differs


_TOKENS = [
    *_words("0 1 7 9 12 60 2001 - + _ . : e E 0x 0b 0o f Y n on Off yes No T t Z"),
    *_words("-05:00 2001-12-14 21:59:43 .10 inf nan .inf .NaN ~ null <<"),
    " ",  # between a timestamp's date and time
]


def test_random_scalars_are_refused_exactly_when_backstage_reads_them_otherwise() -> None:
    """The same oracle on 1,931 scalars made of number, date and boolean parts (seeded)."""
    chance = random.Random(20261207)
    texts = sorted(
        {"".join(chance.choice(_TOKENS) for _ in range(chance.randint(1, 5))) for _ in range(2500)}
    )
    plain = []  # those that are one plain scalar in a mapping's value under YAML 1.2
    for text in texts:
        first, *others = load_documents(f"x: {text}\n")
        if not others and isinstance(first, Document) and set(first.value) == {"x"}:
            plain.append(text)
    assert len(plain) == 1931
    disagreements = []
    for text, (as_12, as_11) in zip(plain, _run_node(_READ_BOTH, plain), strict=True):
        if as_12 is None or as_11 is None:
            continue  # npm refuses it: no reading to compare
        (result,) = load_documents(f"%YAML 1.1\n---\nx: {text}\n")
        assert isinstance(result, Document)
        if (result.otherwise is not None) != (as_11 != as_12) or not _same(
            result.value["x"], json.loads(as_12)["x"]
        ):
            disagreements.append((text, as_12, as_11))
    assert disagreements == []
