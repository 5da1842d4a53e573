"""The seam between the scheduler and where nodes run: a backend launches one node and reports on it.

The local backend runs subprocesses; the Docker and Kubernetes backends (in ``deploy/``) run containers
and Jobs. A backend that can run a whole DAG server-side (Argo) may take the whole workflow instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Task:
    """One attempt of one node, fully resolved: what to run, where, with what environment."""

    run_id: str
    address: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    stdout: Path
    stderr: Path
    timeout: float | None = None
    attempt: int = 1
    pass_fds: tuple[int, ...] = ()  # file descriptors the process inherits (the launcher's run-id pipe)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended. ``exit_code`` is None when the node never started or was killed."""

    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    duration: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


@runtime_checkable
class Backend(Protocol):
    """Launch one node and report on it."""

    name: str

    def submit(self, task: Task) -> Any:
        """Start ``task``; return a handle for the other calls."""
        ...

    def wait(self, handle: Any) -> Outcome:
        """Block until the node ends (or is cancelled or times out) and say how it ended."""
        ...

    def status(self, handle: Any) -> str:
        """``running`` or ``exited``."""
        ...

    def logs(self, handle: Any) -> tuple[str, str]:
        """The node's stdout and stderr so far."""
        ...

    def cancel(self, handle: Any) -> None:
        """Stop the node (and anything it started); safe to call twice or after it ended."""
        ...


def tail(path: Path, lines: int = 20, limit: int = 64_000) -> str:
    """The last ``lines`` lines of a text file (reading at most ``limit`` bytes from its end)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])
