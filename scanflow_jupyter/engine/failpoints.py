"""Named moments of a run where the fault-injection suite (``tests/faults``) kills the driver, exactly.

``SCANFLOW_FAILPOINT=NAME:N`` makes the process SIGKILL itself the N-th time it reaches failpoint ``NAME`` (a real
SIGKILL: no cleanup, no ``finally``, no atexit, as when a machine loses power under a process or the OOM killer
picks it). Unset, which is always the case outside that suite, a failpoint costs a comparison.

The points: ``run.begin`` (nothing opened yet), ``run.tracking`` (the MLflow store open, no state written),
``run.parent`` (the parent MLflow run created, its id not yet in the state), ``step.spawned`` (a step's process
started, not yet recorded), ``step.done`` (a step's process ended, its end not yet recorded), ``state.tmp`` (a
state file written to its temporary name, not renamed), ``state.renamed`` (renamed, its folder not yet fsynced),
``run.final`` (every step done and tracked, the final state not yet written).
"""

from __future__ import annotations

import os
import signal
import threading

_SPEC = os.environ.get("SCANFLOW_FAILPOINT", "")
_NAME, _, _COUNT = _SPEC.partition(":")
_TARGET = int(_COUNT or 1) if _NAME else 0
_seen = 0
_lock = threading.Lock()


def hit(name: str) -> None:
    """Reach failpoint ``name``: the process dies here if it is the one (and the time) asked for."""
    global _seen
    if name != _NAME:
        return
    with _lock:
        _seen += 1
        if _seen == _TARGET:
            os.kill(os.getpid(), signal.SIGKILL)
