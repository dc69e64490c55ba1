"""Real-world survey: trueup's default configuration over catalog repositories, judged by Backstage.

For each checked-out repository (a folder; it is read, never changed, and never
committed here) this script does what a new user would: ``trueup init`` in a
temporary folder, the ``file`` source pointed at the repository (the starter's
includes, ``**/*.yaml`` and ``**/*.yml``), ``trueup sync``, ``trueup export`` and
``trueup check``. Then the Backstage harness (``backstage-harness/``, installed by
``make test`` or ``make harness``) judges both sides:

- every YAML file the includes match is validated offline with the catalog's own
  code (built-in kinds allowed, as the harness's catalog is configured; read as the
  ``https://github.com/NAME/blob/COMMIT/`` location when NAME is ``owner/repo``),
  which gives the entities Backstage accepts from the repository;
- a real catalog backend reads trueup's export as a ``file`` location, which gives
  the entities Backstage ingested from trueup and its errors.

It prints, per repository, documents read, entities Backstage's validator accepts,
entities trueup serves, entities Backstage ingested, processing and location
errors, and every disagreement with its reason; then one summary table.

Usage: ``python bench/realworld.py [--json OUT] [NAME=]DIR...``
(the repositories surveyed for issue 7 are listed in the README of the harness).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness driver lives with the tests

from tests.backstage.harness import CatalogReport, ValidationReport, run_catalog, validate  # noqa: E402

INCLUDES = ("**/*.yaml", "**/*.yml")  # what `trueup init` writes
REASON_CHARS = 220
OFFLINE = "is outside the repository (not fetched offline)"  # validate.mjs's reader


@dataclass
class Survey:
    """What one repository gave, on each side, and where the two disagree."""

    name: str
    commit: str
    files: int = 0
    documents: int = 0
    unparsable_files: int = 0
    backstage_valid: int = 0  # entities the catalog's code accepts on their own (unique refs)
    backstage_accepts: int = 0  # of those, in files Backstage would not reject whole
    unverifiable: int = 0  # entities whose placeholder names a URL outside the repository
    rejected_files: int = 0  # files one document of which makes Backstage reject all of them
    trueup_sync_exit: int = 0
    trueup_serves: int = 0
    ingested: int = 0
    stitched: int = 0
    location_errors: list[str] = field(default_factory=list)
    processing_errors: int = 0
    disagreements: list[str] = field(default_factory=list)


def _trueup(workdir: Path, *argv: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trueup", *argv],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _commit(repo: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else "(not a git work tree)"


def yaml_files(repo: Path) -> list[Path]:
    found = {p for pattern in INCLUDES for p in repo.glob(pattern) if p.is_file()}
    return sorted(p for p in found if ".git" not in p.relative_to(repo).parts)


def count_documents(path: Path) -> tuple[int, bool]:
    """Non-empty YAML documents in the file, and whether all of it parsed."""
    count = 0
    try:
        for node in yaml.compose_all(path.read_text(encoding="utf-8", errors="replace")):
            count += node is not None
    except yaml.YAMLError:
        return count, False
    return count, True


def short(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(r" at url:https://repository\.invalid/(\S+)", r" in \1", text)
    text = re.sub(r" at file:\S+, originated at file:\S+,", "", text)
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def run_trueup(
    repo: Path, workdir: Path
) -> tuple[int, list[dict[str, object]], dict[str, list[str]]]:
    """init, sync, export, check: the exit code of sync, the export, findings by subject."""
    init = _trueup(workdir, "init", str(workdir))
    if init.returncode != 0:
        raise RuntimeError(f"trueup init failed: {init.stderr}")
    config = workdir / "trueup.yaml"
    text = config.read_text(encoding="utf-8")
    if "path: catalog" not in text:
        raise RuntimeError(f"trueup init no longer writes `path: catalog`; adapt {__file__}")
    config.write_text(text.replace("path: catalog", f"path: {json.dumps(str(repo))}"), "utf-8")
    sync = _trueup(workdir, "sync", "-c", str(config))
    export = workdir / "export.yaml"
    done = _trueup(workdir, "export", "-c", str(config), "-o", str(export))
    if done.returncode != 0:
        raise RuntimeError(f"trueup export failed: {done.stderr}")
    served = [d for d in yaml.safe_load_all(export.read_text(encoding="utf-8")) if d]
    check = _trueup(workdir, "check", "-c", str(config), "--format", "json", "--fail-on", "never")
    findings: dict[str, list[str]] = {}
    for finding in json.loads(check.stdout or "{}").get("findings", []):
        line = f"{finding['code']}: {finding['message']}"
        findings.setdefault(str(finding["subject"]).lower(), []).append(line)
    return sync.returncode, served, findings


def ref_of(document: dict[str, object]) -> str:
    metadata = document.get("metadata")
    assert isinstance(metadata, dict)
    return f"{document['kind']}:{metadata.get('namespace', 'default')}/{metadata['name']}".lower()


def trueup_reason(ref: str, files: list[str], findings: dict[str, list[str]]) -> str:
    """Why trueup does not serve ``ref``: its findings, or those of the files declaring it."""
    lines = list(findings.get(ref, []))
    for file in files:
        lines += [m for subject, ms in findings.items() if file in subject for m in ms]
    return short("; ".join(dict.fromkeys(lines))) if lines else "no finding names it"


def judge(
    survey: Survey,
    *,
    repo: Path,
    report: ValidationReport,
    served: set[str],
    findings: dict[str, list[str]],
    catalog: CatalogReport,
) -> None:
    """Fill in the counts and the disagreements of one repository."""
    where: dict[str, list[str]] = {}
    valid: set[str] = set()
    accepted: set[str] = set()
    errors: dict[str, str] = {}
    unjudged: set[str] = set()
    for verdict in report.files:
        relative = str(verdict.file.relative_to(repo))
        survey.rejected_files += bool(verdict.location_errors) and bool(verdict.entities)
        for entity in verdict.entities:
            ref = entity.ref.lower()
            if ref.startswith("location:"):
                continue  # trueup follows Locations and does not emit them
            where.setdefault(ref, []).append(relative)
            if any(OFFLINE in error for error in entity.errors):
                survey.unverifiable += 1
                unjudged.add(ref)
                served_or_not = "served" if ref in served else "not served"
                survey.disagreements.append(
                    f"not judged offline (its placeholder reads a URL outside the repository, "
                    f"which Backstage would fetch): {ref} ({relative}); trueup: {served_or_not}: "
                    f"{trueup_reason(ref, [relative], findings)}"
                )
                continue
            if entity.ok:
                valid.add(ref)
                if not verdict.location_errors:
                    accepted.add(ref)
            else:
                errors.setdefault(ref, entity.errors[0] if entity.errors else "rejected")
            if verdict.location_errors and ref not in errors:
                errors[ref] = f"its file is rejected whole: {verdict.location_errors[0]}"
    survey.backstage_valid = len(valid)
    survey.backstage_accepts = len(accepted)
    survey.trueup_serves = len(served)
    survey.ingested = len(catalog.ingested)
    survey.stitched = catalog.stitched
    survey.location_errors = [short(e) for e in catalog.location_errors]
    survey.processing_errors = sum(len(v) for v in catalog.processing_errors.values())

    notes = survey.disagreements
    for ref in sorted(valid - served):
        notes.append(
            f"valid for Backstage, not served by trueup: {ref} ({', '.join(where[ref])}): "
            f"{trueup_reason(ref, where[ref], findings)}"
        )
    for ref in sorted(served - valid - unjudged):
        reason = errors.get(ref, "not declared in the repository's YAML")
        notes.append(f"served by trueup, rejected by Backstage's validator: {ref}: {short(reason)}")
    missing = sorted(served - catalog.ingested)
    if missing and catalog.location_errors:
        notes.append(
            f"Backstage rejected trueup's whole export, {len(missing)} served entities not "
            f"ingested: {short(catalog.location_errors[0])}"
        )
        return
    by_ref = {ref.lower(): errors for ref, errors in catalog.processing_errors.items()}
    for ref in missing:
        why = by_ref.get(ref, ("not ingested, no error reported",))[0]
        notes.append(f"served by trueup, not ingested by Backstage: {ref}: {short(why)}")


def survey_repository(name: str, repo: Path) -> Survey:
    survey = Survey(name=name, commit=_commit(repo))
    files = yaml_files(repo)
    survey.files = len(files)
    for path in files:
        count, parsed = count_documents(path)
        survey.documents += count
        survey.unparsable_files += not parsed
    # A GitHub repository's own URL lets the same-repository rule of placeholders apply.
    base = f"https://github.com/{name}/blob/{survey.commit}/" if name.count("/") == 1 else None
    report = validate(files, root=repo, base=base) if files else ValidationReport((), ())
    with tempfile.TemporaryDirectory(prefix="trueup-realworld-") as temp:
        workdir = Path(temp)
        survey.trueup_sync_exit, served, findings = run_trueup(repo, workdir)
        catalog = run_catalog(workdir / "export.yaml")
    judge(
        survey,
        repo=repo,
        report=report,
        served={ref_of(d) for d in served},
        findings=findings,
        catalog=catalog,
    )
    return survey


def print_survey(s: Survey) -> None:
    print(f"\n## {s.name} @ {s.commit}")
    rows = [
        ("YAML files (documents)", f"{s.files} ({s.documents}; {s.unparsable_files} unparsable)"),
        (
            "entities Backstage's validator accepts",
            f"{s.backstage_valid} ({s.backstage_accepts} in files it would not reject; "
            f"{s.rejected_files} files rejected whole; {s.unverifiable} not judged offline)",
        ),
        ("entities trueup serves", f"{s.trueup_serves} (sync exit {s.trueup_sync_exit})"),
        (
            "entities Backstage ingested from trueup",
            f"{s.ingested} (stitched {s.stitched} with the location)",
        ),
        (
            "location errors / processing errors",
            f"{len(s.location_errors)} / {s.processing_errors}",
        ),
    ]
    for label, value in rows:
        print(f"  {label:<42} {value}")
    for error in s.location_errors:
        print(f"  location error: {error}")
    for note in s.disagreements:
        print(f"  - {note}")


def print_summary(surveys: list[Survey]) -> None:
    header = (
        "repository",
        "docs",
        "valid",
        "trueup",
        "ingested",
        "loc.err",
        "proc.err",
        "disagree",
    )
    print("\n| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for s in surveys:
        cells = (
            s.name,
            s.documents,
            s.backstage_valid,
            s.trueup_serves,
            s.ingested,
            len(s.location_errors),
            s.processing_errors,
            len(s.disagreements),
        )
        print("| " + " | ".join(str(c) for c in cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repositories", nargs="+", help="[NAME=]DIR of a checked-out repository")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    surveys: list[Survey] = []
    for item in args.repositories:
        name, _, folder = item.rpartition("=")
        repo = Path(folder).resolve()
        surveys.append(survey_repository(name or repo.name, repo))
        print_survey(surveys[-1])
    print_summary(surveys)
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in surveys], indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
