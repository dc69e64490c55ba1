"""Drive the Backstage compatibility harness (``backstage-harness/``) from Python.

``validate`` runs the offline validator (the catalog's own processing code over
catalog files); ``run_catalog`` runs a real catalog backend once on a ``file`` or
``url`` location and returns what it ingested; ``RunningCatalog`` keeps one
running and asks it to refresh its location. The harness is installed by
``make test``; when node or the install is missing, ``require_harness`` says so
(the tests fail with that message, they never skip). Called by
``tests/backstage`` and ``bench/realworld.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

HARNESS_DIR = Path(__file__).resolve().parents[2] / "backstage-harness"
INSTALLED_STAMP = HARNESS_DIR / "node_modules" / ".installed"
LocationType = Literal["file", "url"]


class HarnessMissingError(RuntimeError):
    """Node or the harness's npm packages are not installed."""


class HarnessFailedError(RuntimeError):
    """A harness script ended without its JSON report."""


def require_harness() -> str:
    """The path of ``node``, once the harness is known to be installed."""
    node = shutil.which("node")
    if node is None:
        raise HarnessMissingError(
            "the Backstage harness needs Node.js 20 (`node` is not on PATH); "
            "install it, then `make test` installs the harness (npm ci in backstage-harness/)"
        )
    if not INSTALLED_STAMP.exists():
        raise HarnessMissingError(
            f"the Backstage harness is not installed ({INSTALLED_STAMP} is missing); "
            "`make test` installs it (or `make harness`)"
        )
    return node


# --- offline validation ---------------------------------------------------------


@dataclass(frozen=True)
class EntityVerdict:
    """One entity of a file, as the catalog's processing judged it."""

    ref: str
    ok: bool
    errors: tuple[str, ...]
    shadowed: bool  # a later document of the same file has the same ref (Backstage keeps that one)


@dataclass(frozen=True)
class FileVerdict:
    """One file: errors that make Backstage reject it whole, and each entity's verdict."""

    file: Path
    location_errors: tuple[str, ...]
    entities: tuple[EntityVerdict, ...]

    @property
    def accepted(self) -> tuple[EntityVerdict, ...]:
        """Entities Backstage would ingest from this file (none when the file is rejected)."""
        if self.location_errors:
            return ()
        return tuple(e for e in self.entities if e.ok)


@dataclass(frozen=True)
class ValidationReport:
    kinds: tuple[str, ...]
    files: tuple[FileVerdict, ...]

    @property
    def entities(self) -> tuple[EntityVerdict, ...]:
        return tuple(e for f in self.files for e in f.entities)

    @property
    def accepted(self) -> tuple[EntityVerdict, ...]:
        return tuple(e for f in self.files for e in f.accepted)

    def problems(self) -> list[str]:
        """Every error, one line each, naming the file and the entity."""
        lines = [f"{f.file}: {error}" for f in self.files for error in f.location_errors]
        lines += [
            f"{f.file}: {e.ref}: {error}"
            for f in self.files
            for e in f.entities
            for error in e.errors
        ]
        return lines


def _messages(errors: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(f"{e['name']}: {e['message']}" for e in errors)


def validate(
    files: Sequence[Path],
    *,
    root: Path,
    allow: Sequence[str] | None = None,
    base: str | None = None,
    timeout: float = 600,
) -> ValidationReport:
    """Validate ``files`` (under ``root``) with the catalog's code; ``allow`` is catalog.rules.

    ``base`` is the repository's URL (``https://github.com/o/r/blob/<sha>/``) when known,
    so that the catalog's same-repository rule for placeholders applies as it would.
    """
    node = require_harness()
    argv = [node, str(HARNESS_DIR / "validate.mjs"), "--root", str(root)]
    if base is not None:
        argv += ["--base", base]
    if allow is not None:
        argv += ["--allow", ",".join(allow)]
    data = _run_json([*argv, *(str(f) for f in files)], timeout)
    return ValidationReport(
        kinds=tuple(data["kinds"]),
        files=tuple(
            FileVerdict(
                file=Path(f["file"]),
                location_errors=_messages(f["locationErrors"]),
                entities=tuple(
                    EntityVerdict(e["ref"], e["ok"], _messages(e["errors"]), e["shadowed"])
                    for e in f["entities"]
                ),
            )
            for f in data["files"]
        ),
    )


def _run_json(argv: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise HarnessFailedError(f"{argv[1]} exited {done.returncode}: {done.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(done.stdout)
    return data


# --- a real catalog backend -------------------------------------------------------


@dataclass(frozen=True)
class CatalogReport:
    """What a real catalog backend holds once processing settled."""

    event: str
    location: str  # the configured location's own entity, location:default/generated-…
    entities: tuple[str, ...]  # stitched refs a location still emits, the location included
    orphans: tuple[str, ...]  # stitched refs no location emits any more (deleted within 30 s)
    stitched: int
    location_errors: tuple[str, ...]  # the location failed: nothing of the file was (re)read
    processing_errors: dict[str, tuple[str, ...]]  # entity ref -> its current errors
    hook_errors: tuple[str, ...]  # every processing-error hook call since start, "ref: error"
    elapsed_ms: int

    @property
    def ingested(self) -> frozenset[str]:
        """The refs read from the location, lower-cased, the location entity left out."""
        return frozenset(ref.lower() for ref in self.entities if ref != self.location)

    def problems(self) -> list[str]:
        lines = list(self.location_errors)
        lines += [f"{ref}: {m}" for ref, ms in self.processing_errors.items() for m in ms]
        return lines + list(self.hook_errors)


def _report(data: dict[str, Any]) -> CatalogReport:
    if data.get("event") in {"failed", "error"}:
        raise HarnessFailedError(f"catalog.mjs: {json.dumps(data)}")
    return CatalogReport(
        event=data["event"],
        location=data["location"],
        entities=tuple(data["entities"]),
        orphans=tuple(data["orphans"]),
        stitched=data["stitched"],
        location_errors=tuple(
            m for row in data["locationErrors"] for m in _messages(row["errors"])
        ),
        processing_errors={
            row["ref"]: _messages(row["errors"]) for row in data["processingErrors"]
        },
        hook_errors=tuple(
            f"{row['ref']}: {m}" for row in data["hookErrors"] for m in _messages(row["errors"])
        ),
        elapsed_ms=data["elapsedMs"],
    )


def _catalog_argv(
    target: str, location_type: LocationType, allow: Sequence[str] | None, timeout: float
) -> list[str]:
    argv = [require_harness(), str(HARNESS_DIR / "catalog.mjs"), "--target", target]
    argv += ["--type", location_type, "--timeout-s", str(int(timeout))]
    if allow is not None:
        argv += ["--allow", ",".join(allow)]
    return argv


def run_catalog(
    target: str | Path,
    *,
    location_type: LocationType = "file",
    allow: Sequence[str] | None = None,
    timeout: float = 600,
) -> CatalogReport:
    """Start a catalog on one location, wait until it settled, report, stop."""
    argv = _catalog_argv(str(target), location_type, allow, timeout)
    return _report(_run_json(argv, timeout + 60))


class RunningCatalog:
    """A catalog backend kept running (``catalog.mjs --serve``), driven line by line.

    ``with RunningCatalog(url, location_type="url") as catalog:`` starts it and waits
    for the first report (``catalog.ready``); ``catalog.refresh()`` refreshes the
    location through the REST API and returns the settled report.
    """

    def __init__(
        self,
        target: str | Path,
        *,
        location_type: LocationType = "file",
        allow: Sequence[str] | None = None,
        timeout: float = 600,
    ) -> None:
        self._argv = [*_catalog_argv(str(target), location_type, allow, timeout), "--serve"]
        self._process: subprocess.Popen[str] | None = None
        self.ready: CatalogReport | None = None
        self.base_url = ""
        self.token = ""

    def __enter__(self) -> RunningCatalog:
        self._process = subprocess.Popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            data = self._read()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.ready = _report(data)
        self.base_url, self.token = data["baseUrl"], data["token"]
        return self

    def _read(self) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise HarnessFailedError(f"catalog.mjs ended (exit {self._process.wait()})")
        data: dict[str, Any] = json.loads(line)
        return data

    def _ask(self, command: str) -> CatalogReport:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        return _report(self._read())

    def refresh(self) -> CatalogReport:
        return self._ask("refresh")

    def report(self) -> CatalogReport:
        return self._ask("report")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            assert process.stdin is not None
            process.stdin.close()  # end of input: the harness stops its backend
            process.wait(timeout=60)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            process.kill()
            process.wait()
        finally:
            if process.stdout is not None:
                process.stdout.close()
