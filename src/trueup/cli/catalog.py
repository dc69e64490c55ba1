"""Reading the stored catalog: ``export``, ``check``, ``explain`` and ``history``.

The ``--format json`` shapes are documented in docs/cli-json.md and are stable;
they are built in :mod:`trueup.views`, which the API shares.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.markup import escape
from rich.table import Table

from trueup.backstage_config import emission_policy
from trueup.checks.scorecard import scorecard
from trueup.cli import rejected
from trueup.cli.app import ConfigOption, age, console, open_store, read_config
from trueup.cli.machine import junit_report, write_json
from trueup.cli.terminal import cell, say
from trueup.errors import ConfigError
from trueup.feed import render_json, render_yaml
from trueup.model.finding import Finding, Severity
from trueup.pipeline import refresh_freshness
from trueup.redaction import redact_text
from trueup.sinks.publish import publishable
from trueup.views.entity import explain_view
from trueup.views.history import history_view, revision_entries
from trueup.views.quality import check_view, ordered
from trueup.views.refs import resolve_ref


class ExportFormat(StrEnum):
    yaml = "yaml"
    json = "json"


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    junit = "junit"


class FailOn(StrEnum):
    error = "error"
    warning = "warning"
    never = "never"


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


def print_findings(findings: Sequence[Finding]) -> None:
    """One line per finding, worst first, then the counts (``trueup check``, the demo)."""
    colour = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}
    for f in findings:
        say(
            (f"{f.severity.value:<7}", colour[f.severity]),
            f" {f.code:<15} {f.subject}: {f.message}",
        )
    counts = ", ".join(f"{sum(1 for f in findings if f.severity is s)} {s.value}" for s in Severity)
    say(f"{len(findings)} findings ({counts})")


def _write_chunks(chunks: Iterable[str], output: Path | None) -> None:
    if output is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk)
        tmp.replace(output)
    except OSError as exc:  # a folder that does not exist, no permission, a full disk
        raise ConfigError(f"{output}: cannot write: {exc.strerror or exc}") from None
    finally:  # nothing half-written is left beside it (a failed read, a failed write)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _fails(findings: Iterable[Finding], fail_on: FailOn) -> bool:
    if fail_on is FailOn.never:
        return False
    threshold = Severity(fail_on.value).rank
    return any(f.severity.rank >= threshold for f in findings)


# Rich reads square brackets as markup: escaped, the help shows them.
REF_HELP = escape("[kind:][namespace/]name, e.g. component:default/payments or payments")


def _short(value: Any, width: int = 60) -> str:
    """``value`` in at most ``width`` characters, masked first: a secret cut in two is no
    longer found by the terminal's masking, and its first part would show."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = redact_text(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        config: ConfigOption = None,
        fmt: Annotated[
            ExportFormat, typer.Option("--format", help="yaml or json.")
        ] = ExportFormat.yaml,
        output: Annotated[
            Path | None, typer.Option("-o", "--output", help="Write to FILE.")
        ] = None,
        kind: Annotated[
            list[str] | None, typer.Option("--kind", help="Only this kind (repeatable).")
        ] = None,
    ) -> None:
        """Print the assembled catalog exactly as the Backstage feed serves it."""
        kinds = frozenset(k.lower() for k in kind) if kind else None
        loaded = read_config(config)
        held: list[Finding] = []
        with open_store(loaded) as store:
            refresh_freshness(loaded, store)
            render = render_json if fmt is ExportFormat.json else render_yaml
            rows = publishable(
                store.feed_rows(kinds=kinds), emission_policy(loaded.backstage), held
            )
            _write_chunks(render(rows), output)  # masked by the gate, as the feed
        for f in held:  # on stderr: stdout is the feed
            say(f"held back {f.subject}: {f.message} (sync to record it)", err=True)

    @app.command()
    def check(
        config: ConfigOption = None,
        fail_on: Annotated[
            FailOn, typer.Option("--fail-on", help="Exit 3 at or above this severity.")
        ] = FailOn.error,
        fmt: Annotated[
            CheckFormat, typer.Option("--format", help="text, json or junit.")
        ] = CheckFormat.text,
        by_owner: Annotated[
            bool, typer.Option("--by-owner", help="Also print the per-owner scorecard.")
        ] = False,
    ) -> int:
        """The quality findings; a CI gate (exit 3 at or above --fail-on)."""
        loaded = read_config(config)
        with open_store(loaded) as store:
            refresh_freshness(loaded, store)
            findings = ordered(store.findings())
            entity_scores = store.scores()
        card = scorecard(entity_scores, findings)
        out: TextIO = sys.stdout
        if fmt is CheckFormat.json:
            write_json(check_view(findings, entity_scores), out, sort_keys=True)
        elif fmt is CheckFormat.junit:
            out.write(junit_report(findings, lambda items: _fails(items, fail_on)))
        else:
            print_findings(findings)
            if by_owner:
                table = Table("owner", "entities", "score", "errors", "warnings", "top codes")
                for row in card:
                    codes = ", ".join(
                        f"{c}={n}" for c, n in sorted(row.by_code.items(), key=lambda x: -x[1])[:3]
                    )
                    table.add_row(
                        cell(row.owner),
                        str(row.entities),
                        str(row.score),
                        str(row.by_severity.get("error", 0)),
                        str(row.by_severity.get("warning", 0)),
                        cell(codes),
                    )
                console.print(table)
        return 3 if _fails(findings, fail_on) else 0

    @app.command()
    def explain(
        ref: Annotated[str, typer.Argument(help=REF_HELP)],
        config: ConfigOption = None,
        fmt: Annotated[TextOrJson, typer.Option("--format")] = TextOrJson.text,
    ) -> int:
        """One entity, field by field: value, winning source, locator, age, disagreeing sources."""
        now = datetime.now(UTC)
        loaded = read_config(config)
        with open_store(loaded) as store:
            refresh_freshness(loaded, store)
            target = resolve_ref(store, ref)
            stored = store.entity(target)
            gone = stored is None or stored.removed
            refused = rejected.declarations(store.findings(), target) if gone else []
        if refused:  # declared, but refused before it became an entity (again)
            rejected.show(target, refused, as_json=fmt is TextOrJson.json)
            return 0
        if stored is None:  # on stderr: stdout is the report (JSON with --format json)
            say(f"no entity {target}", err=True)
            return 1
        entity = stored.assembled
        view = explain_view(stored, now)
        rows = view["fields"]
        if fmt is TextOrJson.json:
            write_json(view, sys.stdout)
            return 0
        state = (
            "removed"
            if stored.removed
            else ("served" if entity.emitted else "NOT served (invalid)")
        )
        say(
            (str(entity.ref), "bold"),
            f"  revision {stored.revision}  {state}  "
            f"quality {entity.score}/100{'  discovered' if entity.discovered else ''}",
        )
        table = Table(show_lines=False)
        for title in ("field", "value", "source", "locator", "age", "disputed by"):
            table.add_column(title, overflow="fold")
        for row in rows:
            disputed = "; ".join(
                f"{_short(c['value'], 24)} ({c['source']})" for c in row["disputed_by"]
            )
            table.add_row(
                *map(
                    cell,
                    (
                        row["field"],
                        _short(row["value"]),
                        row["source"],
                        " + ".join([row["locator"], *row["references"]]),
                        row["age"],
                        disputed,
                    ),
                )
            )
        console.print(table)
        if entity.places:
            places = Table()
            for title in ("status", "place", "shown", "last known", "age", "source"):
                places.add_column(title, overflow="fold")
            for p in entity.places:
                shown = cell(f"{p.value} (stale)", "yellow") if p.stale else cell(p.value)
                places.add_row(
                    cell(p.key),
                    cell(p.place),
                    shown,
                    cell(p.last_known or '""'),
                    cell(age(p.provenance.observed_at, now)),
                    cell(p.provenance.source),
                )
            console.print(places)
        for f in entity.findings:
            say(f"{f.severity.value:<7} {f.code:<15} {f.message}")
        return 0

    @app.command()
    def history(
        ref: Annotated[str, typer.Argument(help=REF_HELP)],
        config: ConfigOption = None,
        fmt: Annotated[TextOrJson, typer.Option("--format")] = TextOrJson.text,
    ) -> int:
        """The revisions of one entity with what changed and why."""
        with open_store(read_config(config)) as store:
            target = resolve_ref(store, ref)
            revisions = store.revisions(target)
        if not revisions:  # on stderr: stdout is the report (JSON with --format json)
            say(f"no history for {target}", err=True)
            return 1
        entries = revision_entries(revisions)
        if fmt is TextOrJson.json:
            write_json(history_view(target, revisions), sys.stdout)
            return 0
        say((str(target), "bold"))
        for entry in entries:
            say(f"#{entry['revision']} {entry['at']} {entry['change']} — {entry['cause']}")
            diff = entry["diff"]
            if entry["change"] == "created":
                continue
            for key, value in diff["added"].items():
                say(f"    + {key}: {_short(value)}")
            for key, value in diff["removed"].items():
                say(f"    - {key}: {_short(value)}")
            for key, change in diff["changed"].items():
                say(f"    ~ {key}: {_short(change['from'], 30)} → {_short(change['to'], 30)}")
            for message in diff["findings_added"]:
                say(f"    ! {message}")
            for message in diff["findings_resolved"]:
                say(f"    ✓ {message}")
        return 0
