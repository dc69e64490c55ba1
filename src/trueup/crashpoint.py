"""Named points where a test may have the process killed: the crash tests' lever.

``TRUEUP_CRASHPOINT=<name>`` makes :func:`crashpoint` send SIGKILL to this process
when it reaches that point; unset (always, in production), it does nothing. The
server marks the moments whose crash must lose nothing: between a webhook's
verification and the durable record of its job, between that record and the
answer, and inside a sync between reading and committing.
"""

from __future__ import annotations

import os
import signal

ENV = "TRUEUP_CRASHPOINT"

AFTER_VERIFY = "webhook-after-verify"
AFTER_RECORD = "webhook-after-record"
SYNC_READ = "sync-read"


def crashpoint(name: str) -> None:
    """Die here, at once and without cleanup, if the environment names this point."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
