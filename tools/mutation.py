"""``make mutation``: how many small changes to the truth rules do their tests notice?

A mutation run over the modules listed in ``[tool.mutation]`` of ``pyproject.toml``
(the truth rules of SPEC sections 5 and 7; the incremental engine's dependency
tracking joins the list when it exists). Each mutant is one small change to one
module (``tools/mutation_operators.py``: a comparison flipped, ``and``/``or``
swapped, a constant moved by one, a condition negated, a ``return``,
``continue``, ``break`` or ``yield`` removed), run against the relevant tests
(``pytest -x``) in a temporary copy of the project, with a timeout. A mutant
that no test fails on has *survived*; its line is printed. Survivors that change
nothing observable are listed with the reason in ``[[tool.mutation.equivalent]]``;
the exit status is 1 while any other survivor remains. ``docs/mutation.md`` says
how to read the output.

Why a script of the project's own rather than mutmut or cosmic-ray:

- mutmut 3.8.1, tried on this machine against ``assemble/precedence.py``: it
  keeps its working copy in a ``mutants/`` folder inside the work tree, first
  failed to import ``trueup`` from it (only the mutated files are copied unless
  ``also_copy`` names the package), mutates only inside functions (a module- or
  class-level constant is never tried) and reports survivors by generated
  function names (``x__order__mutmut_3``) behind ``mutmut results``/``show``
  rather than by file and line. Its own operators (string and argument
  mutations) also make its figures incomparable with issue 13's table.
- cosmic-ray 8.x turns each mutated tree back into code that it writes over the
  module's file on disk for the test run, so an interrupted run can leave a
  mutant in the work tree; it needs a session database and several commands
  (``init``, ``exec``, ``cr-report``) for one figure.
- This script: the operators issue 13 lists (and ``break``), so before and
  after compare; the work tree is only read (each worker gets its own temporary
  copy, and the imported module is checked to be the copy's); no state between
  runs; the output is a table and ``file:line  function: before → after`` lines.
  Standard library only, tested by ``tests/tools/test_mutation.py``.

PostgreSQL is not used: ``TRUEUP_TEST_POSTGRES_URL`` is removed from the tests'
environment, so the database tests run on SQLite only (the rules under test do
not depend on the backend).

Usage: ``python tools/mutation.py [--module PATH]... [--tests PATH]... [--jobs N]``
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the sibling module importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.mutation_operators import Change, count_mutants, mutate, unmutated

# Removed from the tests' environment: the run uses SQLite only.
_DROPPED_ENV = ("TRUEUP_TEST_POSTGRES_URL", "TRUEUP_REQUIRE_POSTGRES")
_PROJECT_FILES = ("pyproject.toml", "pytest.ini", "setup.cfg", "conftest.py")
_MIN_TIMEOUT = 20.0
_TIMEOUT_FACTOR = 5.0


class MutationSetupError(Exception):
    """The run cannot measure anything: a bad configuration, or tests failing unmutated."""


@dataclass(frozen=True)
class Settings:
    """What ``[tool.mutation]`` and the command line ask for."""

    root: Path
    modules: tuple[str, ...]  # paths relative to root
    tests: tuple[str, ...]  # test paths relative to root, in the order pytest runs them
    source_dir: str = "src"  # the folder that holds the importable packages
    equivalent: dict[str, str] = field(default_factory=dict)  # mutant id -> why
    jobs: int = 1


@dataclass(frozen=True, slots=True)
class Outcome:
    module: str
    change: Change
    status: str  # "killed", "timeout" or "survived"
    ident: str  # ``path::function: before → after in `line```: stable across line shifts


@dataclass
class ModuleReport:
    module: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def killed(self) -> int:
        return sum(1 for o in self.outcomes if o.status != "survived")

    def survivors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "survived"]


def load_settings(root: Path, argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--module", action="append", help="a module to mutate (repeatable)")
    parser.add_argument("--tests", action="append", help="a test path to run (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    args = parser.parse_args(argv)
    pyproject = root / "pyproject.toml"
    config: dict[str, Any] = {}
    if pyproject.is_file():
        config = tomllib.loads(pyproject.read_text()).get("tool", {}).get("mutation", {})
    modules = tuple(args.module or config.get("modules", ()))
    tests = tuple(args.tests or config.get("tests", ()))
    if not modules or not tests:
        raise MutationSetupError(
            f"{pyproject}: [tool.mutation] needs `modules` and `tests` (or --module and --tests)"
        )
    for path in (*modules, *tests):
        if not (root / path).exists():
            raise MutationSetupError(f"{pyproject}: [tool.mutation] names {path}, which is missing")
    equivalent = {str(e["mutant"]): str(e["why"]) for e in config.get("equivalent", ())}
    return Settings(
        root=root,
        modules=modules,
        tests=tests,
        source_dir=str(config.get("source_dir", "src")),
        equivalent=equivalent,
        jobs=max(1, args.jobs),
    )


# --- the temporary copies ------------------------------------------------------------------


@contextmanager
def workspaces(settings: Settings) -> Iterator[list[Path]]:
    """One temporary copy of the sources, tests and test configuration per job."""
    with tempfile.TemporaryDirectory(prefix="trueup-mutation-") as tmp:
        copies = []
        for n in range(settings.jobs):
            copy = Path(tmp) / f"w{n}"
            _copy_project(settings, copy)
            copies.append(copy)
        yield copies


def _copy_project(settings: Settings, copy: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    tops = {settings.source_dir, *(Path(p).parts[0] for p in (*settings.modules, *settings.tests))}
    copy.mkdir(parents=True)
    for top in sorted(tops):
        source = settings.root / top
        if source.is_dir():
            shutil.copytree(source, copy / top, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, copy / top)
    for name in _PROJECT_FILES:
        if (settings.root / name).is_file():
            shutil.copy2(settings.root / name, copy / name)


def _environment(settings: Settings, copy: Path, *, write_bytecode: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    paths = [str(copy / settings.source_dir), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    if write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        # A mutant may have the size and modification second of the file before it:
        # a cached .pyc could then stand in for it.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run_tests(
    settings: Settings, copy: Path, timeout: float, *, write_bytecode: bool = False
) -> tuple[str, str]:
    """("passed" | "failed" | "timeout", the end of pytest's output)."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    command += ["--no-header", "-p", "no:randomly", *settings.tests]
    process = subprocess.Popen(
        command,
        cwd=copy,
        env=_environment(settings, copy, write_bytecode=write_bytecode),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, ended whole on a timeout
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return "timeout", ""
    tail = "\n".join(output.strip().splitlines()[-15:])
    if process.returncode == 0:
        return "passed", tail
    if process.returncode in (4, 5):  # usage error, no tests collected: nothing was measured
        raise MutationSetupError(f"pytest could not run the tests in {copy}:\n{tail}")
    return "failed", tail


def _module_name(settings: Settings, module: str) -> str:
    relative = Path(module).relative_to(settings.source_dir)
    parts = relative.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _check_imports_the_copy(settings: Settings, copy: Path, module: str) -> None:
    """A copy shadowed by an installed package would make every mutant survive."""
    name = _module_name(settings, module)
    probe = f"import importlib.util; print(importlib.util.find_spec({name!r}).origin)"
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=copy,
        env=_environment(settings, copy, write_bytecode=False),
        capture_output=True,
        text=True,
        check=False,
    )
    origin = Path(found.stdout.strip() or "?").resolve()
    if origin != (copy / module).resolve():
        raise MutationSetupError(
            f"{name} is imported from {origin}, not from the mutated copy {copy / module}"
        )


# --- one module -------------------------------------------------------------------------


def run_module(settings: Settings, module: str, copies: Sequence[Path]) -> ModuleReport:
    """Every mutant of one module, against the configured tests."""
    started = time.monotonic()
    original = (settings.root / module).read_text()
    baseline = unmutated(original)
    durations = []
    for copy in copies:
        _check_imports_the_copy(settings, copy, module)
        (copy / module).write_text(baseline)
        begun = time.monotonic()
        status, tail = _run_tests(settings, copy, timeout=600, write_bytecode=True)
        durations.append(time.monotonic() - begun)
        if status != "passed":
            raise MutationSetupError(
                f"the tests do not pass on {module} before any mutation ({status}):\n{tail}"
            )
        for cached in (copy / module).parent.glob(f"__pycache__/{Path(module).stem}.*.pyc"):
            cached.unlink()
    timeout = max(_MIN_TIMEOUT, _TIMEOUT_FACTOR * max(durations))

    free: queue.Queue[Path] = queue.Queue()
    for copy in copies:
        free.put(copy)

    def one(index: int) -> Outcome:
        source, change = mutate(original, index)
        copy = free.get()
        try:
            (copy / module).write_text(source)
            status, _ = _run_tests(settings, copy, timeout)
        finally:
            (copy / module).write_text(baseline)
            free.put(copy)
        verdict = {"passed": "survived", "failed": "killed"}.get(status, status)
        return Outcome(module, change, verdict, f"{module}::{change.label}")

    with ThreadPoolExecutor(max_workers=len(copies)) as pool:
        outcomes = list(pool.map(one, range(count_mutants(original))))
    return ModuleReport(module, _numbered(outcomes), time.monotonic() - started)


def _numbered(outcomes: list[Outcome]) -> list[Outcome]:
    """The same change twice on one line (``f(1, 1)``): the second ident gets `` #2``."""
    seen: dict[str, int] = {}
    out = []
    for outcome in outcomes:
        seen[outcome.ident] = seen.get(outcome.ident, 0) + 1
        n = seen[outcome.ident]
        out.append(replace(outcome, ident=f"{outcome.ident} #{n}") if n > 1 else outcome)
    return out


# --- the report -------------------------------------------------------------------------


def report(settings: Settings, reports: Sequence[ModuleReport]) -> tuple[list[str], int]:
    """The printed lines and the exit status (1 while an unexplained survivor remains)."""
    lines = [
        "| module | mutants | killed | survived | equivalent | score |",
        "|---|---|---|---|---|---|",
    ]
    unexplained: list[Outcome] = []
    explained: list[Outcome] = []
    for r in reports:
        survivors = r.survivors()
        known = [o for o in survivors if o.ident in settings.equivalent]
        lines.append(_row(r.module, len(r.outcomes), r.killed, len(survivors), len(known)))
        unexplained += [o for o in survivors if o.ident not in settings.equivalent]
        explained += known
    total = sum(len(r.outcomes) for r in reports)
    killed = sum(r.killed for r in reports)
    lines.append(_row("all", total, killed, total - killed, len(explained)))
    if unexplained:
        lines += ["", "Survivors (no test fails on these changes):"]
        lines += [_where(o) for o in unexplained]
    if explained:
        lines += ["", "Survivors listed as equivalent in [tool.mutation.equivalent]:"]
        for o in explained:
            lines.append(_where(o))
            lines.append(f"      {settings.equivalent[o.ident]}")
    seen = {o.ident for r in reports for o in r.outcomes}
    wrong = {o.ident for r in reports for o in r.outcomes if o.status != "survived"}
    listed = {m for m in settings.equivalent if m.split("::")[0] in {r.module for r in reports}}
    stale = sorted((listed & wrong) | (listed - seen))
    if stale:
        lines += ["", "Listed as equivalent but killed or no longer produced (remove them):"]
        lines += [f"  {m}" for m in stale]
    return lines, 1 if unexplained else 0


def _where(outcome: Outcome) -> str:
    """``path:line  function: before → after …``: the ident, with the line number."""
    what = outcome.ident.removeprefix(f"{outcome.module}::")
    return f"  {outcome.module}:{outcome.change.line}  {what}"


def _row(name: str, mutants: int, killed: int, survived: int, equivalent: int) -> str:
    """The score is the share killed of the mutants that change behaviour (not equivalent)."""
    behaving = mutants - equivalent
    share = f"{killed / behaving:.1%}" if behaving else "-"
    return f"| `{name}` | {mutants} | {killed} | {survived} | {equivalent} | {share} |"


def main(argv: Sequence[str] | None = None, root: Path | None = None) -> int:
    root = (root or Path.cwd()).resolve()
    try:
        settings = load_settings(root, argv)
        print(f"mutation run: {len(settings.modules)} modules; tests: {' '.join(settings.tests)}")
        reports = []
        with workspaces(settings) as copies:
            for module in settings.modules:
                result = run_module(settings, module, copies)
                survived = len(result.survivors())
                print(
                    f"  {module}: {len(result.outcomes)} mutants, {result.killed} killed, "
                    f"{survived} survived ({result.seconds:.0f} s)",
                    flush=True,
                )
                reports.append(result)
    except MutationSetupError as error:
        print(f"mutation run failed: {error}", file=sys.stderr)
        return 2
    lines, status = report(settings, reports)
    print("\n" + "\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
