"""``trueup serve``: the HTTP server and the scheduler in one process, or apart by role.

Roles: ``all`` (HTTP and background work), ``api`` (HTTP only: feed, API,
webhooks — jobs are recorded for the workers) and ``worker`` (background work;
HTTP answers only ``/healthz``, ``/readyz`` and ``/metrics``). With SQLite one
process does everything (``all``); with PostgreSQL any number of replicas of
any role share the work through procrastinate (:mod:`trueup.scheduler.shared`).

Shutdown (SIGTERM, SIGINT): uvicorn stops accepting connections and lets the
requests under way finish, then the background work stops taking jobs and
waits for running syncs (``server.shutdown_timeout``). A sync commits in one
transaction, so one cut short by a harder kill rolls back as a whole and its
job runs again (SQLite: requeued at the next start; PostgreSQL: found stalled
by another replica).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from trueup.backstage_config import emission_policy
from trueup.config import Config
from trueup.errors import ConfigError
from trueup.metrics import Metrics
from trueup.scheduler.jobs import JobQueue
from trueup.scheduler.local import LocalQueue, LocalWorker
from trueup.scheduler.runner import JobRunner
from trueup.server_config import ServeRole
from trueup.store import Store
from trueup.store.engine import parse_url
from trueup.web.app import create_app
from trueup.web.state import ServerState

log = logging.getLogger(__name__)


Role = ServeRole  # what one process does (all, api, worker)


class Background(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Server:
    """A configured server: its app, and the background work its lifespan runs."""

    app: FastAPI
    state: ServerState
    background: Background | None
    host: str
    port: int


def listen_address(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8470`` for IPv6) as a (host, port) pair."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"server.listen {listen!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def build_server(
    config: Config, store: Store, role: Role = Role.all, *, worker_name: str | None = None
) -> Server:
    """The app and background work for ``role``; the store must be upgraded already."""
    metrics = Metrics()
    metrics.watch_scopes(store.scopes)
    name = worker_name or f"{socket.gethostname()}-{os.getpid()}"
    runner = JobRunner(config, store, metrics, worker=name)
    postgres = config.database.startswith("postgresql")
    queue: JobQueue
    background: Background | None = None
    if not postgres:
        if role is not Role.all:
            raise ConfigError(
                f"--role {role.value} needs PostgreSQL: with SQLite one process does it all "
                "(--role all)"
            )
        local = LocalQueue()
        queue = local
        background = LocalWorker(config, store, local, runner)
    else:
        from trueup.scheduler.shared import SharedQueue, SharedWorker, conninfo

        shared = SharedQueue(conninfo(parse_url(config.database)))
        queue = shared
        if role is not Role.api:
            background = SharedWorker(config, store, shared, runner, name)
    state = ServerState(
        config=config,
        store=store,
        emission=emission_policy(config.backstage),
        metrics=metrics,
        queue=queue,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if background is not None:
            await background.start()
        log.info("trueup serving (role %s, queue %s)", role.value, queue.name)
        try:
            yield
        finally:
            if background is not None:
                await background.stop()
            log.info("trueup stopped")

    app = create_app(state, lifespan=lifespan, serving=role is not Role.worker)
    host, port = listen_address(config.server.listen)
    return Server(app, state, background, host, port)


def run(server: Server, *, sock: socket.socket | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully."""
    timeout = int(server.state.config.server.shutdown_timeout.total_seconds())
    uvicorn_config = uvicorn.Config(
        server.app,
        host=server.host,
        port=server.port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=timeout,
        server_header=False,
    )
    uvicorn.Server(uvicorn_config).run(sockets=[sock] if sock is not None else None)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message (and the error)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
