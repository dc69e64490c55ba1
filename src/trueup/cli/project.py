"""``trueup init``, ``config show``, ``config check``, ``db upgrade`` and ``demo``.

``demo`` builds the embedded world (:mod:`trueup.world`) and syncs it; with
``--live`` its clusters are served by loopback Kubernetes API servers
(:mod:`trueup.world.live`) and read through a kubeconfig, as real ones are.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.table import Table

from trueup.backstage_config import emission_policy
from trueup.cli.app import ConfigOption, config_path, console, open_store, read_config
from trueup.cli.catalog import print_findings
from trueup.cli.run import print_summary, run_sync
from trueup.cli.terminal import cell, say, say_block
from trueup.config import DEFAULT_CONFIG, Config
from trueup.config_check import check_config
from trueup.errors import ConfigError
from trueup.model.assembled import AssembledEntity
from trueup.model.ref import EntityRef
from trueup.pipeline import SyncOutcome, configured_sinks
from trueup.redaction import redacted
from trueup.store import Store

if TYPE_CHECKING:
    from trueup.world import DemoWorld

STARTER = """\
# trueup configuration. Every key is documented in the README; `trueup config check`
# validates this file and `trueup config show` prints it with secrets redacted.
# ${VAR} is replaced from the environment: keep secrets there, never here.

database: sqlite:///trueup.db          # or postgresql+psycopg://user@host/db
# public_url: https://trueup.example.com  # used in links written into entities

sources:
  - id: catalog                        # intent: a folder of Backstage descriptor files
    type: file
    path: catalog
    include: ["**/*.yaml", "**/*.yml"]
  # - id: clusters                     # actual: `kubectl get -o json` exports, one per cluster
  #   type: kubernetes
  #   snapshot: exports/*.json
  #   max_age: 15m                     # older status is shown as Unknown

merge:
  precedence:                          # first source listed wins for that field
    "*": [catalog]

safety:
  max_removal_ratio: 0.5               # hold removals above this share of a scope

checks:
  severity: {}                         # e.g. {missing-field: info}
  # required_fields:
  #   Component: [metadata.description, spec.lifecycle, spec.system]

sinks:
  - type: directory
    path: out/catalog

backstage:                             # what the feed may hold: only what Backstage accepts
  kinds: [Component, API, Resource, System, Domain, Group, User]   # Template, custom kinds opt in

# server:
#   listen: 127.0.0.1:8470             # not 7007: that is Backstage's own backend port
"""


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Show or validate the configuration.", no_args_is_help=True)
    db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
    app.add_typer(config_app, name="config")
    app.add_typer(db_app, name="db")

    @app.command()
    def init(
        directory: Annotated[Path, typer.Argument(help="Where to write trueup.yaml.")] = Path("."),
        force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
    ) -> None:
        """Write a commented starter trueup.yaml (and the catalog folder it reads)."""
        target = directory / DEFAULT_CONFIG
        if target.exists() and not force:
            raise ConfigError(f"{target} already exists (use --force to overwrite)")
        directory.mkdir(parents=True, exist_ok=True)
        target.write_text(STARTER, encoding="utf-8")
        (directory / "catalog").mkdir(exist_ok=True)  # the starter's file source reads it
        say(f"wrote {target} and the folder {directory / 'catalog'}")

    @config_app.command("show")
    def config_show(config: ConfigOption = None) -> None:
        """Print the effective configuration, secrets redacted."""
        data = redacted(read_config(config))
        say_block(yaml.safe_dump(data, sort_keys=False))

    @config_app.command("check")
    def config_check(config: ConfigOption = None) -> None:
        """Validate the configuration and what it points to, as sync would (runs nothing)."""
        path = config_path(config)
        loaded = read_config(config)
        emission_policy(loaded.backstage)  # custom kinds' schemas are read and checked
        problems = check_config(loaded, str(path))  # every source built by its plugin, too
        if problems:
            raise ConfigError("\n".join(problems))
        configured_sinks(loaded)
        say(f"{path}: ok ({len(loaded.sources)} sources, {len(loaded.sinks)} sinks)")

    @db_app.command("upgrade")
    def db_upgrade(config: ConfigOption = None) -> None:
        """Apply database migrations."""
        loaded = read_config(config)
        lock_timeout = loaded.database_lock_timeout.total_seconds()
        with Store.open(loaded.database, lock_timeout=lock_timeout) as store:
            before = store.schema_version()
            store.upgrade()
            after = ", ".join(sorted(store.schema_version()))
        if before == {after}:
            say(f"database is up to date (schema {after})")
        else:
            say(f"database upgraded: schema {', '.join(sorted(before)) or 'none'} -> {after}")

    @app.command()
    def demo(
        once: Annotated[
            bool, typer.Option(help="Sync and exit instead of serving (for tests and CI).")
        ] = False,
        listen: Annotated[
            str, typer.Option(help="Where the demo serves its feed and API (HOST:PORT).")
        ] = "127.0.0.1:8470",
        directory: Annotated[
            Path | None,
            typer.Option(
                "--dir", help="Where to build the demo world (default: a temporary folder)."
            ),
        ] = None,
        live: Annotated[
            bool,
            typer.Option(
                "--live",
                help="Serve the clusters from loopback Kubernetes API servers and read them live.",
            ),
        ] = False,
    ) -> int:
        """Build a small realistic world, sync it into SQLite, show the results and serve it."""
        from trueup.world import write_demo_world

        root = directory or Path(tempfile.mkdtemp(prefix="trueup-demo-"))
        world = write_demo_world(root)
        say(("demo world", "bold"), f" written to {root}")
        if live:
            _demo_live(world, None if once else listen)
        else:
            _demo_sync(world, world.config)
            if not once:
                from trueup.cli.demo_serve import serve_demo  # the web stack

                serve_demo(read_config(world.config), listen)
        return 0


# --- the demo ------------------------------------------------------------------------


def _demo_live(world: DemoWorld, listen: str | None) -> None:
    """Serve the world's clusters on loopback API servers, sync them live (and serve the
    result, watching them, when ``listen`` is given), stop them."""
    from trueup.world.live import start_demo_clusters, write_live_config

    # kubectl sends a bearer token only over TLS; openssl makes the certificate.
    tls = shutil.which("openssl") is not None
    with start_demo_clusters(world, tls=tls) as clusters:
        config = write_live_config(world, clusters)
        say(
            ("live clusters", "bold"),
            " loopback Kubernetes API servers on 127.0.0.1 "
            "(trueup's test server speaking the real protocol, not real clusters)",
        )
        for cluster in clusters.clusters:
            what = (
                f"{cluster.name:<10} {cluster.url}  {cluster.objects} objects from {cluster.export}"
            )
            say(f"  {what}")
        contexts = ", ".join(clusters.contexts)
        say(f"  kubeconfig {clusters.kubeconfig}  (contexts {contexts})")
        say(f"  config     {config}")
        if tls:
            first = clusters.contexts[0]
            reach = (
                f"kubectl --kubeconfig {clusters.kubeconfig} --context {first} get deployments -A"
            )
            say(f"  reach      {reach}  (while they run)")
        _demo_sync(world, config)
        if listen is not None:
            from trueup.cli.demo_serve import serve_demo  # the web stack

            serve_demo(read_config(config), listen)
    say("")
    say("live clusters stopped")


def _demo_sync(world: DemoWorld, config: Path) -> None:
    """Sync ``config``, then show the summary, the findings, the status per place and hints."""
    loaded = read_config(config)
    outcome = run_sync(loaded, only=(), accept_removals=())
    print_summary(outcome)
    with open_store(loaded) as store:
        findings = sorted(store.findings(), key=lambda f: (-f.severity.rank, f.subject, f.code))
        drifted = [
            stored.assembled
            for name in (world.out_of_sync, world.degraded)
            if (stored := store.entity(EntityRef.of("component", None, name))) is not None
        ]
    say("")
    say(("what trueup found", "bold"))
    print_findings(findings)
    _print_status(drifted)
    _print_results(world, loaded, config, outcome)


def _print_status(drifted: list[AssembledEntity]) -> None:
    status = Table("entity", "status", "place", "shown")
    for entity in drifted:
        for place in entity.places:
            if place.key in ("argocd-sync", "argocd-health", "replicas"):
                status.add_row(*map(cell, (entity.ref.name, place.key, place.place, place.value)))
    say("")
    say(("status per place", "bold"), " (the entity shows the worst of them)")
    console.print(status)


def _print_results(world: DemoWorld, loaded: Config, config: Path, outcome: SyncOutcome) -> None:
    exe = shutil.which("trueup") or str(Path(sys.executable).with_name("trueup"))
    say("")
    say(("results", "bold"))
    say(f"  database   {loaded.database}")
    for report in outcome.sinks:
        say(f"  sink       {report.sink} ({report.written} written)")
    for command in (
        f"check -c {config} --by-owner",
        f"explain component:{world.out_of_sync} -c {config}",
        f"history component:{world.out_of_sync} -c {config}",
        f"export -c {config}",
    ):
        say(f"  try        {exe} {command}")
