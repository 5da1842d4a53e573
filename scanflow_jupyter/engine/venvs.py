"""Per-executor virtual environments, built once per requirements hash under ``.scanflow/venvs/``."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import BackendError


def requirements_hash(requirements: list[str]) -> str:
    """A stable hash of a requirements list (order and blank lines do not matter)."""
    lines = sorted({line.strip() for line in requirements if line.strip() and not line.strip().startswith("#")})
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def ensure_venv(root: Path, requirements: list[str], progress: Callable[[str], None] | None = None) -> Path:
    """The python of a venv holding ``requirements``, building it if no finished one exists.

    Concurrent callers for the same requirements wait on a file lock, so the venv is built once.
    """
    key = requirements_hash(requirements)
    venv = root / key
    python = venv / "bin" / "python"
    marker = venv / ".complete"
    if marker.exists():
        return python
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return python
        if progress:
            progress(f"building venv {key} ({len(requirements)} requirements)")
        _run([sys.executable, "-m", "venv", "--clear", str(venv)], "create the venv")
        reqs = venv / "requirements.txt"
        reqs.write_text("\n".join(requirements) + "\n")
        if requirements:
            _run(
                [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(reqs)],
                "install the requirements",
            )
        marker.write_text(key)
    return python


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise BackendError(
            f"Could not {what} for an isolated executor (exit {proc.returncode}):\n"
            + "\n".join(lines)
            + "\nFix the requirement named above, or set 'isolated: false' to use the current environment."
        )
