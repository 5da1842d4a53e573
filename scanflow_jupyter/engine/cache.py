"""Content-hash caching: a step is reused when its code, parameters, requirements, declared inputs and
upstream results are unchanged since a successful run. ``force`` bypasses it.

What goes into a key: the script's bytes (or the function's module file), the resolved argv, the
requirements (the list, or the file's bytes), env, isolation, the declared ``inputs`` files' bytes, and
the keys and declared-output digests of the steps it depends on. A code file the script imports is not
seen unless listed in ``inputs``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..workflow import Application, Executor
from .params_resolve import requirements_of
from .statefile import write_error


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _glob_digests(folder: Path, patterns: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, root_dir=folder, recursive=True))
        if not matches:
            out[pattern] = "missing"
        for match in matches:
            path = folder / match
            if path.is_file():
                out[match] = file_digest(path)
    return out


def source_digest(folder: Path, executor: Executor) -> str:
    """The digest of a step's code."""
    if executor.script is not None:
        path = folder / executor.script
        return file_digest(path) if path.is_file() else "missing"
    module = (executor.function or "").split(":")[0]
    for candidate in (folder / (module.replace(".", "/") + ".py"), folder / module.replace(".", "/") / "__init__.py"):
        if candidate.is_file():
            return file_digest(candidate)
    return f"module:{module}"  # installed module: its version is part of the environment, not the app


def output_digests(folder: Path, executor: Executor) -> dict[str, str]:
    """Digests of a step's declared outputs (``missing`` for those absent)."""
    return _glob_digests(folder, executor.outputs)


def node_key(
    app: Application,
    executor: Executor,
    argv: list[str],
    upstream: dict[str, dict[str, Any]],
) -> str:
    """The cache key of a step. ``upstream`` maps each dependency to ``{"key": ..., "outputs": {...}}``."""
    folder = app.folder or Path.cwd()
    requirements = requirements_of(app, executor)
    material = {
        "source": source_digest(folder, executor),
        "argv": argv,
        "requirements": requirements,
        "env": executor.env,
        "isolated": executor.isolated,
        "inputs": _glob_digests(folder, executor.inputs),
        "upstream": {k: upstream[k] for k in sorted(upstream)},
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class Cache:
    """Records of successful steps by key, under ``.scanflow/cache/``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.root / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        return data

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Write a record atomically (not fsynced: a record lost with the machine only means a step runs again).
        ``StateWriteError`` names the file and the space left if the disk refuses; no temporary file stays."""
        target = self.root / f"{key}.json"
        tmp: str | None = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(record))
            os.replace(tmp, target)
        except OSError as exc:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise write_error(target, exc, "the cache record") from exc
