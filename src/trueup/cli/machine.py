"""Machine-readable output (``--format json``, ``--format junit``), made by real serialisers.

Called by the catalog commands. Values from sources are data: the JSON
encoder escapes every control character, and the JUnit report is built with
ElementTree, after the characters XML 1.0 cannot hold at all (``\\x00`` to ``\\x1f``
but tab and newlines, lone surrogates, ``\\ufffe``/``\\uffff``) are replaced by
a visible escape, so the report always parses. Both pass through the
redaction layer (:func:`trueup.redaction.redact_text`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TextIO
from xml.etree import ElementTree as ET

from trueup.model.finding import Finding
from trueup.redaction import redact_text

# Everything XML 1.0 (section 2.2, Char) does not allow.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def write_json(data: Any, out: TextIO, *, sort_keys: bool = False) -> None:
    """``data`` as indented JSON, redacted, with a final newline.

    Serialised first, then redacted as one text (the registry holds every
    secret's JSON-escaped forms too): one pass, however many values.
    """
    out.write(redact_text(json.dumps(data, indent=2, sort_keys=sort_keys, default=str)))
    out.write("\n")


def xml_text(value: object) -> str:
    """Text an XML document can hold: redacted, forbidden characters made visible."""
    return _NOT_XML.sub(_visible, redact_text(str(value)))


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def junit_report(findings: list[Finding], fails: Callable[[list[Finding]], bool]) -> str:
    """One ``testsuite`` with one ``testcase`` per subject; failing subjects have a failure."""
    by_subject: dict[str, list[Finding]] = {}
    for f in findings:
        by_subject.setdefault(f.subject, []).append(f)
    failing = {s for s, fs in by_subject.items() if fails(fs)}
    suite = ET.Element(
        "testsuite",
        name="trueup",
        tests=str(len(by_subject)),
        failures=str(len(failing)),
        errors="0",
    )
    for subject in sorted(by_subject):
        case = ET.SubElement(suite, "testcase", classname="trueup.check", name=xml_text(subject))
        items = by_subject[subject]
        text = "\n".join(f"{f.severity.value} {f.code}: {f.message}" for f in items)
        if subject in failing:
            worst = max(items, key=lambda f: f.severity.rank)
            failure = ET.SubElement(
                case, "failure", message=xml_text(worst.message), type=xml_text(worst.code)
            )
            failure.text = xml_text(text)
        else:
            ET.SubElement(case, "system-out").text = xml_text(text)
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
