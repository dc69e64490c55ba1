"""The one renderer of text for terminals: one value, one safe line, nothing interpreted."""

from __future__ import annotations

import pytest

from trueup.cli.machine import junit_report, xml_text
from trueup.cli.terminal import clean, say
from trueup.model.finding import Finding, Severity
from trueup.redaction import KNOWN_SECRETS, MASK


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("bell\x07 del\x7f csi\x9b", "bell\\x07 del\\x7f csi\\x9b"),
        ("\u202egnp.exe \u2028 \u2066", "\\u202egnp.exe \\u2028 \\u2066"),
        ("[bold]:x: ✓ ünïcode", "[bold]:x: ✓ ünïcode"),
    ],
)
def test_clean_makes_every_control_character_visible(raw: str, shown: str) -> None:
    assert clean(raw) == shown


def test_clean_masks_secrets_first() -> None:
    KNOWN_SECRETS.add("term-Secret-9")
    assert clean("token term-Secret-9\n") == f"token {MASK}\\n"


def test_say_prints_markup_and_emoji_codes_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    say(("label", "red"), " [red]x[/red] :x: \x1b[2J")
    assert capsys.readouterr().out == "label [red]x[/red] :x: \\x1b[2J\n"


def test_xml_text_keeps_what_xml_can_hold_and_escapes_the_rest() -> None:
    assert xml_text("tab\tnew\nline <&> é \x00\x1b\ud800\ufffe") == (
        "tab\tnew\nline <&> é \\x00\\x1b\\ud800\\ufffe"
    )


def test_the_junit_report_parses_whatever_the_findings_hold() -> None:
    from xml.etree import ElementTree as ET

    finding = Finding("invalid-file", Severity.ERROR, "s:\x1b\x00.yaml", "bad \x01 file")
    report = junit_report([finding], lambda items: True)
    case = ET.fromstring(report.split("?>", 1)[1]).find("testsuite/testcase")
    assert case is not None and case.get("name") == "s:\\x1b\\x00.yaml"
