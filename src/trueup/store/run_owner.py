"""Who owns a sync run that is ``running``, and whether that owner is still alive.

A process killed in the middle of a sync (``kill -9``, a node lost) cannot close
its run: the row stays ``running`` for ever. The next run to start looks at
every ``running`` row and marks those whose owner is gone as ``interrupted``
(:meth:`trueup.store.store.Store.start_run`). Deciding "gone" must be right
when several processes share one database, so each backend uses what it can
trust:

- **PostgreSQL: a session advisory lock held while the run is live.** The
  process that starts run N takes ``pg_advisory_lock(RUN_LOCK_CLASS, N)`` on a
  connection of its own before the run row is committed, and keeps that
  connection until the run finishes. PostgreSQL releases a session lock when
  the session ends, however it ends, on whichever host the process ran.
  Another process that obtains the lock with ``pg_try_advisory_lock`` therefore
  knows for certain that no one is running N any more. No clock, no heartbeat,
  no guess about another host's process table.
- **SQLite: host, process id and process start time.** SQLite in WAL mode only
  works for processes on one host (its shared-memory index cannot live on a
  network file system), so every writer can see every other writer's process.
  A run records ``owner_host``, ``owner_pid`` and ``owner_started`` (the
  process's start time in clock ticks since boot, from ``/proc``, so a reused
  pid is not mistaken for the owner). A run recorded by another host, or by a
  process whose liveness cannot be read, is left as it is: never marked
  interrupted on a guess.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.store.schema import sync_runs

# The first key of the two-int advisory locks that mark live runs ("tr" "un").
RUN_LOCK_CLASS = 0x7472_756E


@dataclass(frozen=True, slots=True)
class RunOwner:
    """The process that runs a sync: where, which, and since when."""

    host: str
    pid: int
    started: str  # start time in clock ticks since boot ("" where it cannot be read)


def this_process() -> RunOwner:
    pid = os.getpid()
    return RunOwner(socket.gethostname(), pid, _start_ticks(pid))


def _start_ticks(pid: int) -> str:
    """Field 22 of ``/proc/PID/stat`` (after the command name, which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


def is_gone(owner: RunOwner) -> bool:
    """Whether ``owner`` has certainly ended (False when it cannot be told)."""
    if owner.host != socket.gethostname() or owner.pid <= 0:
        return False
    if owner.pid == os.getpid():
        return owner.started != _start_ticks(owner.pid)
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        pass
    started = _start_ticks(owner.pid)
    return bool(owner.started and started and started != owner.started)


def mark_interrupted(conn: Connection, now: datetime) -> list[int]:
    """Mark ``interrupted`` every ``running`` run whose owner is gone; returns their ids."""
    running = conn.execute(
        sa.select(
            sync_runs.c.id, sync_runs.c.owner_host, sync_runs.c.owner_pid, sync_runs.c.owner_started
        ).where(sync_runs.c.status == "running", sync_runs.c.owner_pid.is_not(None))
    ).all()
    gone: list[int] = []
    for run_id, host, pid, started in running:
        if conn.dialect.name == "postgresql":
            dead = run_lock_is_free(conn, run_id)
        else:
            dead = is_gone(RunOwner(host or "", int(pid), started or ""))
        if dead:
            gone.append(run_id)
    if gone:
        conn.execute(
            sa.update(sync_runs)
            .where(sync_runs.c.id.in_(gone), sync_runs.c.status == "running")
            .values(
                status="interrupted",
                finished_at=now,
                summary={"error": "interrupted: its process ended before the run finished"},
            )
        )
    return gone


# --- PostgreSQL ---------------------------------------------------------------------


def hold_run_lock(connection: Connection, run_id: int) -> None:
    """Take run ``run_id``'s session lock on ``connection`` (kept until released or closed)."""
    connection.execute(sa.select(sa.func.pg_advisory_lock(RUN_LOCK_CLASS, run_id)))


def release_run_lock(connection: Connection, run_id: int) -> None:
    connection.execute(sa.select(sa.func.pg_advisory_unlock(RUN_LOCK_CLASS, run_id)))


def run_lock_is_free(connection: Connection, run_id: int) -> bool:
    """Whether no session holds run ``run_id``'s lock: its owner is gone for certain."""
    taken = connection.execute(
        sa.select(sa.func.pg_try_advisory_lock(RUN_LOCK_CLASS, run_id))
    ).scalar()
    if taken:
        release_run_lock(connection, run_id)
    return bool(taken)
