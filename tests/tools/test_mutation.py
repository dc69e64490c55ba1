"""The mutation run itself: it must kill what a test catches and report what none does.

A tiny project in a temporary folder (one module, one test) stands in for trueup,
so the run can never silently report every mutant killed, or none.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tools.mutation import main
from tools.mutation_operators import count_mutants, mutate

SAMPLE = '''\
"""A sample rule."""


def is_adult(age: int) -> bool:
    return age >= 18
'''

SAMPLE_TEST = """\
from sample import is_adult


def test_is_adult() -> None:
    assert is_adult(30)
    assert not is_adult(5)
"""


def _project(root: Path, *, test: str = SAMPLE_TEST, extra_config: str = "") -> Path:
    (root / "src").mkdir()
    (root / "src" / "sample.py").write_text(SAMPLE)
    (root / "tests").mkdir()
    (root / "tests" / "test_sample.py").write_text(test)
    (root / "pyproject.toml").write_text(
        '[tool.mutation]\nmodules = ["src/sample.py"]\ntests = ["tests"]\n' + extra_config
    )
    return root


def test_an_obvious_mutant_is_killed_and_the_untested_boundary_survives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path)
    assert main(["--jobs", "2"], root=root) == 1  # survivors no equivalent entry explains
    out = capsys.readouterr().out
    assert "| `src/sample.py` | 5 | 2 | 3 | 0 | 40.0% |" in out
    survivors = out.split("Survivors (no test fails on these changes):\n")[1].splitlines()
    assert survivors == [
        "  src/sample.py:5  is_adult: 18 → 19 in `return age >= 18`",
        "  src/sample.py:5  is_adult: 18 → 17 in `return age >= 18`",
        "  src/sample.py:5  is_adult: age >= 18 → age > 18 in `return age >= 18`",
    ]
    assert (root / "src" / "sample.py").read_text() == SAMPLE  # the work tree is never written


def test_survivors_listed_as_equivalent_are_explained_and_wrong_entries_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [
        ("is_adult: 18 → 19 in `return age >= 18`", "only ages 18 and 19 differ"),
        ("is_adult: 18 → 17 in `return age >= 18`", "only ages 17 and 18 differ"),
        ("is_adult: age >= 18 → age > 18 in `return age >= 18`", "the boundary is not a rule"),
        ("is_adult: age >= 18 → age < 18 in `return age >= 18`", "claimed, but a test kills it"),
    ]
    config = "".join(
        f'[[tool.mutation.equivalent]]\nmutant = "src/sample.py::{m}"\nwhy = "{why}"\n'
        for m, why in entries
    )
    root = _project(tmp_path, extra_config=config)
    assert main([], root=root) == 0
    out = capsys.readouterr().out
    assert "| `src/sample.py` | 5 | 2 | 3 | 3 | 100.0% |" in out
    assert "Survivors (no test fails" not in out
    assert "      the boundary is not a rule" in out
    stale = out.split("no longer produced (remove them):\n")[1].splitlines()
    assert stale == ["  src/sample.py::is_adult: age >= 18 → age < 18 in `return age >= 18`"]


def test_the_same_change_twice_on_one_line_is_told_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path)
    (root / "src" / "sample.py").write_text("def pair():\n    return (1, 1)\n")
    (root / "tests" / "test_sample.py").write_text(
        "from sample import pair\n\n\ndef test_pair():\n    assert pair()[0] >= 0\n"
    )
    assert main([], root=root) == 1
    survivors = capsys.readouterr().out.split("changes):\n")[1].splitlines()
    assert survivors == [
        "  src/sample.py:2  pair: 1 → 2 in `return (1, 1)`",
        "  src/sample.py:2  pair: 1 → 0 in `return (1, 1)`",
        "  src/sample.py:2  pair: 1 → 2 in `return (1, 1)` #2",
        "  src/sample.py:2  pair: 1 → 0 in `return (1, 1)` #2",
    ]


def test_tests_that_fail_before_any_mutation_stop_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = SAMPLE_TEST + "\n\ndef test_wrong() -> None:\n    assert is_adult(3)\n"
    root = _project(tmp_path, test=failing)
    assert main([], root=root) == 2
    err = capsys.readouterr().err
    assert "the tests do not pass on src/sample.py before any mutation" in err
    assert "test_wrong" in err


def test_a_missing_module_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path)
    assert main(["--module", "src/gone.py"], root=root) == 2
    assert "names src/gone.py, which is missing" in capsys.readouterr().err


# --- the operators ----------------------------------------------------------------------


def _labels(source: str) -> list[str]:
    code = textwrap.dedent(source)
    return [mutate(code, i)[1].label for i in range(count_mutants(code))]


def test_each_operator_of_issue_13() -> None:
    source = '''
        """Docstrings are never mutated: 1 < 2."""
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            LIMIT = 3

        def rule(items: list[int], flag: bool) -> object:
            """Neither is this one."""
            for item in items:
                if item in (0,) and not flag:
                    continue
                if item is None:
                    break
                yield item
            return [x for x in items if x != 2]
        '''
    first_if = " in `if item in (0,) and not flag:`"
    second_if = " in `if item is None:`"
    last = " in `return [x for x in items if x != 2]`"
    assert _labels(source) == [
        "rule: 0 → 1" + first_if,
        "rule: 0 → -1" + first_if,
        "rule: item in (0,) → item not in (0,)" + first_if,
        "rule: not flag → flag" + first_if,
        "rule: item in (0,) and not flag → item in (0,) or not flag" + first_if,
        "rule: continue → pass",
        "rule: item in (0,) and not flag → not (item in (0,) and (not flag))" + first_if,
        "rule: item is None → item is not None" + second_if,
        "rule: break → pass",
        "rule: item is None → not item is None" + second_if,
        "rule: yield item → pass",
        "rule: 2 → 3" + last,
        "rule: 2 → 1" + last,
        "rule: x != 2 → x == 2" + last,
        "rule: x != 2 → not x != 2" + last,
        "rule: return [x for x in items if x != 2] → pass",
    ]


def test_ordering_comparisons_are_negated_and_moved_across_the_boundary() -> None:
    assert _labels("def f(a, b):\n    return a < b\n")[:2] == [
        "f: a < b → a >= b in `return a < b`",
        "f: a < b → a <= b in `return a < b`",
    ]
    assert _labels("x = y <= z\n") == [
        "<module>: y <= z → y > z in `x = y <= z`",
        "<module>: y <= z → y < z in `x = y <= z`",
    ]


def test_a_mutant_changes_only_its_own_place() -> None:
    code = "def f(a):\n    if a > 1:\n        return 1\n    return 0\n"
    mutant, change = mutate(code, 2)  # the comparison's negation
    assert (change.line, change.before, change.after) == (2, "a > 1", "a <= 1")
    assert mutant == "def f(a):\n    if a <= 1:\n        return 1\n    return 0"
    with pytest.raises(IndexError):
        mutate(code, count_mutants(code))
