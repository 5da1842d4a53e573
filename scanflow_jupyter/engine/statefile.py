"""Durable, atomic writes of small state files, and a background writer that keeps them off a run's critical path.

A write goes to a temporary file in the same folder, is fsynced, renamed over the target, and the folder is
fsynced, so after a crash (of the process or of the machine) the file holds the previous content or the new one,
never half of either, and a rename that returned is on disk. A write that fails (a full disk) removes its
temporary file and raises :class:`StateWriteError` naming the file and the space left on its disk.

Two fsyncs cost milliseconds, and a run saves its state at every step's change: :class:`StateWriter` does the
writing in a thread of its own, newest snapshot first (a snapshot overtaken by a newer one before its turn is
not written), and lets the run wait for a given snapshot when it must be on disk before going on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import StateWriteError
from . import failpoints


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def space_left(path: Path) -> str:
    """The free space of the disk holding ``path``, for messages ("12.0 MB free")."""
    for candidate in (path, *path.parents):
        try:
            free = shutil.disk_usage(candidate).free
        except OSError:
            continue
        if free >= 1 << 30:
            return f"{free / (1 << 30):.1f} GB free"
        if free >= 1 << 20:
            return f"{free / (1 << 20):.1f} MB free"
        return f"{free} bytes free"
    return "free space unknown"


def write_error(path: Path, exc: OSError, what: str) -> StateWriteError:
    return StateWriteError(
        f"Could not write {what} {path}: {exc.strerror or exc} ({space_left(path.parent)} on that disk). "
        "Free some space (or fix the folder's permissions); the run stops here and 'scanflow resume' finishes "
        "it later, reusing the steps that finished.",
        path=path,
    )


def write_atomic(path: Path, data: bytes, what: str = "the file") -> None:
    """Write ``data`` to ``path`` atomically and durably (fsync of the file, rename, fsync of the folder).

    Raises :class:`StateWriteError` (naming ``path`` and the space left) if it cannot; no temporary file stays.
    """
    folder = path.parent
    tmp = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        new_folder = not folder.is_dir()
        folder.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        failpoints.hit("state.tmp")
        os.replace(tmp, path)
        failpoints.hit("state.renamed")
        _fsync_dir(folder)  # the rename itself is on disk
        if new_folder:
            _fsync_dir(folder.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise write_error(path, exc, what) from exc


class StateWriter:
    """Write snapshots of one file in a background thread, the newest first.

    Parameters
    ----------
    path: the file.
    on_error: called (from the writer's thread) with the first :class:`StateWriteError`; later snapshots are
        still tried, so a disk that gets space back gets the newest state.
    what: how messages name the file.
    """

    def __init__(self, path: Path, on_error: Callable[[StateWriteError], None], what: str = "the file") -> None:
        self.path = path
        self.what = what
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: tuple[int, bytes] | None = None
        self._submitted = 0
        self._written = 0  # the newest snapshot number on disk (or given up on: see _failed)
        self._failed: dict[int, StateWriteError] = {}
        self._after: list[tuple[int, Callable[[], None]]] = []
        self._reported = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"scanflow-state-{path.parent.name}", daemon=True)
        self._thread.start()

    def submit(self, data: bytes) -> int:
        """Queue a snapshot; returns its number, for :meth:`wait`."""
        with self._cond:
            self._submitted += 1
            self._pending = (self._submitted, data)
            self._cond.notify_all()
            return self._submitted

    def after(self, number: int, action: Callable[[], None]) -> None:
        """Do ``action`` (in the writer's thread) once snapshot ``number`` or a newer one is on disk: what must
        never be seen before the state that explains it (a cache record before the step's success). An action
        that raises is reported like a failed write."""
        with self._cond:
            if self._written >= number and not self._failed:
                run_now = True
            else:
                run_now = False
                self._after.append((number, action))
        if run_now:
            self._do(action)

    def _do(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:
            self._report(StateWriteError(f"{exc}", path=self.path) if not isinstance(exc, StateWriteError) else exc)

    def _report(self, error: StateWriteError) -> None:
        if not self._reported:
            self._reported = True
            self._on_error(error)

    def wait(self, number: int | None = None) -> None:
        """Block until snapshot ``number`` (default: the newest) or a newer one is on disk; raise its
        :class:`StateWriteError` if it could not be written."""
        with self._cond:
            target = self._submitted if number is None else number
            while self._written < target:
                self._cond.wait()
            failed = [n for n in self._failed if n >= target]
            if failed:
                raise self._failed[max(failed)]

    def close(self) -> None:
        """Write what is queued, then stop the thread (raises like :meth:`wait`)."""
        try:
            self.wait()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                (number, data), self._pending = self._pending, None
            error: StateWriteError | None = None
            try:
                write_atomic(self.path, data, self.what)
            except StateWriteError as exc:
                error = exc
            except Exception as exc:  # never leave a waiter hanging: whatever broke, it is this write's error
                error = StateWriteError(f"Could not write {self.what} {self.path}: {exc!r}.", path=self.path)
            due: list[Callable[[], None]] = []
            if error is None:
                with self._cond:
                    due = [action for n, action in self._after if n <= number]
                    self._after = [(n, action) for n, action in self._after if n > number]
                for action in due:  # before waiters go on: what they wait for includes these
                    self._do(action)
            with self._cond:
                if error is not None:
                    self._failed[number] = error
                else:
                    self._failed = {}  # the newest state is on disk: earlier failures are moot
                self._written = number
                self._cond.notify_all()
            if error is not None:
                self._report(error)
