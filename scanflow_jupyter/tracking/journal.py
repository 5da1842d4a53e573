"""The tracking journal of a SQLite store: MLflow writes made durable on disk first, done in MLflow later.

A ``scanflow run`` from a shell would otherwise pay for MLflow twice (about 2 s to import it, and the wait for its
writes at the end). Instead the engine appends each write to a journal beside the store
(``mlflow.db`` -> ``mlflow.db.journal``: a SQLite file in WAL mode, ``synchronous=FULL``, so a write the engine was
told is done is on disk, fsync'd) and a *drainer* (:mod:`.drainer`, a process of its own session that outlives the
command) does them in MLflow in order with MLflow's own client, marking each one done. It is started with the run
but imports MLflow only when a write is due (a step that logs itself wants its run, a write has waited 10 s, or the
run has ended), so a short run is not slowed by it on a busy machine.

Nothing is lost: a drainer killed halfway is replaced by the next one (every command starts one when the journal
holds undone writes, :func:`replay`), which does again what was not marked done (each write is safe to do twice).
One drainer per journal at a time: it holds ``mlflow.db.journal.drainer`` locked (``flock``, freed when it dies).
A process that appends holds ``mlflow.db.journal.writers`` shared; a drainer leaves only when the journal is empty and
it can take that lock exclusively (nobody is appending), so a write is never left without a drainer.

Run ids are chosen here (MLflow's SQL store names a run with ``uuid4().hex``; the drainer makes it take this one),
so a step gets its ``MLFLOW_RUN_ID`` at once. A step that imports MLflow waits (in the launcher) until its run
exists in the store.

Only for ``sqlite:///`` stores whose experiment exists already and whose schema revision is one tested here:
any other store takes the MLflow writer process (:mod:`.recorder`), as before. Nothing here imports MLflow.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .store import StoreConfig, sqlite_file_uri, sqlite_path

# MLflow schema revisions (``alembic_version``) the drainer's chosen run ids are tested against.
TESTED_REVISIONS = frozenset({"dc11669786a5"})  # MLflow 3.17
SUFFIX = ".journal"
DRAINER_LOCK = ".drainer"
WRITERS_LOCK = ".writers"
WANTED = ".wanted"  # made by a step's launcher when the step imports MLflow: its run is wanted now
URI_VARIABLE = "SCANFLOW_DRAINER_TRACKING_URI"

SCHEMA = """
CREATE TABLE IF NOT EXISTS writes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL,
    args TEXT NOT NULL,
    run_id TEXT,
    created REAL NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,  -- 1 done in MLflow, 2 refused by MLflow (error says why)
    error TEXT
);
CREATE INDEX IF NOT EXISTS writes_pending ON writes (done, seq);
"""


def journal_path(config: StoreConfig) -> Path | None:
    """Where the journal of ``config``'s store is (beside its SQLite file), or None for a store of another kind."""
    db = config.sqlite_path
    return None if db is None else db.with_name(db.name + SUFFIX)


def journal_of_uri(uri: str) -> Path | None:
    db = sqlite_path(uri)
    return None if db is None else db.with_name(db.name + SUFFIX)


def journaled_experiment(config: StoreConfig) -> str | None:
    """The experiment id to journal writes for, read straight from the store's tables, or None when the journal
    cannot be used: not SQLite, no store yet, an untested schema revision, or no such experiment yet (creating one
    is MLflow's work: the writer process does it, once)."""
    db = config.sqlite_path
    if db is None or not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(sqlite_file_uri(db, mode="ro"), uri=True, timeout=10)) as conn:
            (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone() or (None,)
            if revision not in TESTED_REVISIONS:
                return None
            row = conn.execute(
                "SELECT experiment_id FROM experiments WHERE name = ? AND lifecycle_stage = 'active'",
                (config.experiment,),
            ).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def _connect(path: Path, durable: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # Appends: each commit fsync'd, so an acknowledged write survives a crash. The drainer's marks need not be:
    # a mark lost to a crash means a write done twice, which is safe.
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.executescript(SCHEMA)
    return conn


class Journal:
    """An open journal: append writes (each :meth:`append` one durable transaction), read and mark them."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = _connect(path, durable)

    def append(self, writes: list[tuple[str, dict[str, Any]]]) -> int:
        """Append ``(op, args)`` writes in one transaction, on disk when this returns; the last one's number."""
        now = time.time()
        last = 0
        with self._transaction():
            for op, args in writes:
                cur = self.conn.execute(
                    "INSERT INTO writes (op, args, run_id, created) VALUES (?, ?, ?, ?)",
                    (op, json.dumps(args), args.get("run_id"), now),
                )
                last = int(cur.lastrowid or 0)
        return last

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def pending(self, limit: int = 200) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self.conn.execute(
            "SELECT seq, op, args FROM writes WHERE done = 0 ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [(int(seq), str(op), json.loads(args)) for seq, op, args in rows]

    def last_pending(self) -> int:
        """The number of the newest undone write (0 if none)."""
        (seq,) = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM writes WHERE done = 0").fetchone()
        return int(seq)

    def oldest_pending(self) -> float | None:
        """When the oldest undone write was appended (None if none)."""
        (created,) = self.conn.execute("SELECT MIN(created) FROM writes WHERE done = 0").fetchone()
        return None if created is None else float(created)

    def done_through(self, seq: int) -> bool:
        """True once every write numbered ``seq`` or lower is done."""
        row = self.conn.execute("SELECT 1 FROM writes WHERE done = 0 AND seq <= ? LIMIT 1", (seq,)).fetchone()
        return row is None

    def mark_done(self, *seqs: int) -> None:
        with self._transaction():
            self.conn.executemany("UPDATE writes SET done = 1 WHERE seq = ?", [(seq,) for seq in seqs])

    def mark_failed(self, seq: int, error: str) -> None:
        self.conn.execute("UPDATE writes SET done = 2, error = ? WHERE seq = ?", (error, seq))

    def failures(self) -> list[tuple[int, str, str]]:
        """The writes MLflow refused: (number, op, error)."""
        rows = self.conn.execute("SELECT seq, op, error FROM writes WHERE done = 2 ORDER BY seq").fetchall()
        return [(int(seq), str(op), str(error)) for seq, op, error in rows]

    def compact(self) -> None:
        """Forget the done writes (the journal is empty when the store is up to date)."""
        self.conn.execute("DELETE FROM writes WHERE done = 1")  # refused ones stay, for a person to read

    def close(self) -> None:
        self.conn.close()


def has_pending(path: Path) -> bool:
    """True if the journal at ``path`` holds writes not yet done in MLflow (False if there is no journal)."""
    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(sqlite_file_uri(path, mode="ro"), uri=True, timeout=10)) as conn:
            return conn.execute("SELECT 1 FROM writes WHERE done = 0 LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        return False  # not created yet (or half): nothing to do


# -- the locks ---------------------------------------------------------------------------------------------------
def _lock_file(path: Path, suffix: str) -> int:
    return os.open(path.with_name(path.name + suffix), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def try_lock(path: Path, suffix: str, mode: int = fcntl.LOCK_EX) -> int | None:
    """The descriptor of lock ``path + suffix`` taken in ``mode`` without waiting, or None if it is held."""
    fd = _lock_file(path, suffix)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def drainer_alive(path: Path) -> bool:
    """True if a drainer holds the journal at ``path``."""
    fd = try_lock(path, DRAINER_LOCK)
    if fd is None:
        return True
    os.close(fd)
    return False


def hold_writers(path: Path) -> int:
    """Say this process appends to the journal at ``path`` (a shared lock, until the descriptor is closed): a
    drainer stays while it is held."""
    fd = _lock_file(path, WRITERS_LOCK)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def start_drainer(path: Path, uri: str) -> subprocess.Popen[bytes] | None:
    """Start a drainer for the journal at ``path`` unless one holds it: detached (a session of its own, no
    terminal, its stderr in ``path + '.log'``), so it finishes after the command that started it has exited.
    Returns the process started (None if a drainer was there)."""
    if drainer_alive(path):
        return None
    with open(path.with_name(path.name + ".log"), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "scanflow_jupyter.tracking.drainer", str(path)],
            # The URI through the environment (a command line is public), as for the writer process.
            env={**os.environ, URI_VARIABLE: uri},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )


def replay(config: StoreConfig) -> bool:
    """Start a drainer for what a killed one left (a no-op when the journal is empty or a drainer runs); True if
    there was something to do. Every command calls this first."""
    path = journal_path(config)
    if path is None or not has_pending(path):
        return False
    start_drainer(path, config.uri)
    return True


def settle(config: StoreConfig, timeout: float = 300.0) -> None:
    """Wait until every write journaled so far for ``config``'s store is done in MLflow (starting a drainer if
    none runs), so what is read from the store next is complete. Later writes (another run's) are not waited
    for."""
    path = journal_path(config)
    if path is None or not has_pending(path):
        return
    journal = Journal(path)
    try:
        last = journal.last_pending()
        deadline = time.monotonic() + timeout
        while not journal.done_through(last):
            start_drainer(path, config.uri)  # again if the one before died
            if time.monotonic() > deadline:
                from ..errors import TrackingError

                raise TrackingError(
                    f"The tracking journal {path} was not written to MLflow within {timeout:g} s; see {path}.log, "
                    "and run any scanflow command again to go on."
                )
            time.sleep(0.02)
    finally:
        journal.close()
