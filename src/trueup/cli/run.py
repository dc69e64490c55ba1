"""``trueup sync``: read, assemble, check, store and write sinks, with progress and a summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table

from trueup.cli.app import ConfigOption, config_path, console, open_store, read_config
from trueup.cli.terminal import cell, clean, say
from trueup.config import Config
from trueup.errors import ConfigError
from trueup.model.observation import ScopeFailure, ScopeRead
from trueup.pipeline import SyncOutcome, sync
from trueup.timings import describe


def run_sync(config: Config, *, only: Sequence[str], accept_removals: Sequence[str]) -> SyncOutcome:
    """Sync with a live progress line on a terminal (plain lines otherwise)."""
    with open_store(config, upgrade=True) as store:
        status = console.status("reading sources…") if console.is_terminal else None
        if status is not None:
            status.start()

        def progress(source_id: str, read: ScopeRead) -> None:
            if isinstance(read, ScopeFailure):
                say(("✗", "red"), f" {source_id}/{read.scope}: {read.kind.value}: {read.message}")
            else:
                kept = f", {len(read.kept)} unchanged parts kept" if read.kept else ""
                say(
                    ("✓", "green"),
                    f" {source_id}/{read.scope}: {len(read.observations)} observations{kept}",
                )
            if status is not None:
                status.update(clean(f"read {source_id}/{read.scope}…"))

        try:
            outcome = sync(
                config, store, only=only, accept_removals=accept_removals, progress=progress
            )
        finally:
            if status is not None:
                status.stop()
        if outcome.result is None:
            outcome.tally = store.tally()
        return outcome


def print_summary(outcome: SyncOutcome) -> None:
    result, summary = outcome.result, outcome.summary
    table = Table(title=f"sync run {outcome.run_id}", show_header=False, box=None)
    table.add_row("scopes read", str(len(outcome.snapshots)))
    table.add_row("scopes failed", str(len(outcome.failures)))
    if result is not None:
        emitted = sum(1 for e in result.entities.values() if e.emitted)
        table.add_row("entities", f"{len(result.entities)} ({emitted} served to Backstage)")
        findings = [f for e in result.entities.values() for f in e.findings] + list(result.findings)
        by_severity: dict[str, int] = {}
        for f in findings:
            by_severity[f.severity.value] = by_severity.get(f.severity.value, 0) + 1
    elif outcome.tally is not None:
        total, emitted, by_severity = outcome.tally
        table.add_row(
            "entities",
            f"{total} ({emitted} served to Backstage; {outcome.assembled} assembled by this sync)",
        )
    else:
        by_severity = {}
    if result is not None or outcome.tally is not None:
        table.add_row(
            "findings", ", ".join(f"{k}={v}" for k, v in sorted(by_severity.items())) or "none"
        )
    if summary is not None:
        table.add_row(
            "revisions",
            f"{summary.created} created, {summary.changed} changed, {summary.removed} removed",
        )
    if outcome.ignored:
        documents, files = sum(outcome.ignored.values()), len(outcome.ignored)
        table.add_row(
            "ignored",
            f"{documents} document{'s' if documents != 1 else ''} in {files} "
            f"file{'s' if files != 1 else ''}: no Backstage entities (Kubernetes manifests, …), "
            "not served",
        )
    for source_id, note in sorted(outcome.notes.items()):
        table.add_row(cell(source_id), cell(note))
    for (source, scope), count in sorted(outcome.held.items()):
        table.add_row(cell("held", "yellow"), cell(f"{count} removals in {source}/{scope}"))
    table.add_row("took", cell(describe(outcome.timings.to_json())))
    console.print(table)
    for partial in outcome.partial:
        say(("partial", "yellow"), " ", partial.message)
    for held in outcome.held_back:
        say(("held back", "yellow"), f" {held.subject}: {held.message}")
    for report in outcome.sinks:
        line = f"{report.sink}: {report.written} written, {report.removed} removed"
        if report.held:
            line += (
                f", {report.held} removals held (release: trueup hydrate --push --accept-removals)"
            )
        if report.note:
            line += f"; {report.note}"
        say(("sink", "green"), " ", line)
    for error in outcome.sink_errors:
        say(("sink", "red"), " ", error, " — the store is up to date")
    for failure in outcome.failures:
        what = f"{failure.source}/{failure.scope} ({failure.kind.value}): {failure.message}"
        say(("failed", "red"), " ", what, " — last good data kept")


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync_command(
        config: ConfigOption = None,
        source: Annotated[
            list[str] | None, typer.Option("--source", help="Read only this source (repeatable).")
        ] = None,
        accept_removals: Annotated[
            list[str] | None,
            typer.Option(
                "--accept-removals",
                metavar="SOURCE_OR_SCOPE",
                help="Release held removals of a source (all its scopes) or of SOURCE/SCOPE.",
            ),
        ] = None,
    ) -> int:
        """Read every (or the named) source once, assemble, check, store and write sinks."""
        loaded = read_config(config)
        if not loaded.sources:  # a run that reads nothing must not report success
            raise ConfigError(f"{config_path(config)}: nothing to sync: no sources are configured")
        outcome = run_sync(loaded, only=source or (), accept_removals=accept_removals or ())
        print_summary(outcome)
        return outcome.exit_code
