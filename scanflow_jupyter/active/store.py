"""The label store: every label committed to SQLite the moment it is given, with who, when, which session and
which sample, and an undo history.

Durability: WAL mode with ``synchronous=FULL``; ``add_label`` returns only after its transaction is committed, so
a label the widget acknowledged survives a killed kernel. Nothing is ever deleted: an undo marks its label undone
(``undone`` holds the time), and a relabel adds a row, so the history is the table itself.

Two annotators: a sample is *claimed* before it is shown (``claim``, one ``BEGIN IMMEDIATE`` transaction, so two
processes never claim the same sample), and labeling a sample another annotator holds or has labeled is refused
with :class:`~scanflow_jupyter.errors.LabelConflictError`. Claims expire (``claim_ttl``) so a closed notebook does
not hold its samples forever.

Example
-------
>>> store = LabelStore(":memory:")
>>> store.open_session("digits", classes=["0", "1"])
['0', '1']
>>> store.claim("digits", "ana", ["s1", "s2", "s3"], 2)
['s1', 's2']
>>> store.add_label("digits", "s1", "1", annotator="ana")
1
>>> store.labels("digits")
{'s1': '1'}
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import LabelConflictError, LabelingError, LabelValueError

__all__ = ["LabelRecord", "LabelStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    name TEXT PRIMARY KEY,
    classes TEXT NOT NULL,
    created REAL NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS labels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL REFERENCES sessions(name),
    sample_id TEXT NOT NULL,
    label TEXT NOT NULL,
    annotator TEXT NOT NULL,
    time REAL NOT NULL,
    source TEXT NOT NULL DEFAULT 'ranked',
    undone REAL
);
CREATE INDEX IF NOT EXISTS labels_by_sample ON labels(session, sample_id);
CREATE TABLE IF NOT EXISTS queue (
    session TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    score REAL NOT NULL,
    reason TEXT NOT NULL,
    added REAL NOT NULL,
    PRIMARY KEY (session, sample_id)
);
CREATE TABLE IF NOT EXISTS claims (
    session TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    annotator TEXT NOT NULL,
    time REAL NOT NULL,
    source TEXT NOT NULL DEFAULT 'ranked',
    PRIMARY KEY (session, sample_id)
);
"""

# The current label of a sample: its latest row that is not undone.
CURRENT = """
SELECT l.sample_id, l.label, l.annotator, l.time, l.source, l.seq FROM labels l
WHERE l.session = ? AND l.undone IS NULL AND l.seq = (
    SELECT MAX(seq) FROM labels m WHERE m.session = l.session AND m.sample_id = l.sample_id AND m.undone IS NULL
)
ORDER BY l.seq
"""


@dataclass(frozen=True)
class LabelRecord:
    """One row of the history: a label given (``undone`` is the time it was undone, or None)."""

    seq: int
    session: str
    sample_id: str
    label: str
    annotator: str
    time: float
    source: str
    undone: float | None


class LabelStore:
    """Labels in a SQLite file (or ``":memory:"``); safe to share between threads and between processes.

    Parameters
    ----------
    path
        The database file; its folder is created. Several processes may open the same file.
    claim_ttl
        Seconds after which another annotator may take a sample someone claimed but did not label.
    """

    def __init__(self, path: str | Path, *, claim_ttl: float = 900.0) -> None:
        self.path = str(path)
        self.claim_ttl = claim_ttl
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = self._connect()
        with self._lock:
            self._conn.executescript(SCHEMA)  # executescript commits on its own (IF NOT EXISTS: safe to repeat)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a committed label survives a crash of the machine, too
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    # -- transactions ------------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``), so read-then-write is atomic across
        processes. A COMMIT that fails (a full disk, an I/O error) is rolled back and raised as a
        :class:`~scanflow_jupyter.errors.LabelingError`: nothing of the change is saved, and the store takes the
        next write (a transaction left open would refuse every later one)."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                self._rollback()
                raise
            try:
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise LabelingError(
                    f"the label store {self.path} could not commit ({exc}): nothing of this change was saved. Check "
                    "the disk's free space and that the file is writable, then do it again"
                ) from exc

    def _rollback(self) -> None:
        """End the open transaction; a connection that cannot even roll back is replaced by a new one."""
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            try:
                self._conn.close()
            finally:
                self._conn = self._connect()

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, tuple(args)))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def data_version(self) -> int:
        """A number that changes each time another connection (another annotator, another process, a second
        store on the same file) commits to the file; this store's own writes leave it as it is. Cheap: the grid
        polls it to redraw labels given elsewhere."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    # -- sessions ----------------------------------------------------------------------------------
    def open_session(self, name: str, classes: Sequence[str], meta: dict[str, Any] | None = None) -> list[str]:
        """Create the session ``name``, or reopen it; returns its classes (the stored ones, with any new ones in
        ``classes`` added at the end)."""
        if not name:
            raise LabelingError("a labeling session needs a name (any non-empty text)")
        wanted = [str(c) for c in classes]
        with self._write() as cur:
            row = cur.execute("SELECT classes FROM sessions WHERE name = ?", (name,)).fetchone()
            if row is None:
                cur.execute(
                    "INSERT INTO sessions (name, classes, created, meta) VALUES (?, ?, ?, ?)",
                    (name, json.dumps(wanted), time.time(), json.dumps(meta or {})),
                )
                return wanted
            stored: list[str] = json.loads(row[0])
            merged = stored + [c for c in wanted if c not in stored]
            if merged != stored:
                cur.execute("UPDATE sessions SET classes = ? WHERE name = ?", (json.dumps(merged), name))
            return merged

    def sessions(self) -> list[str]:
        return [r[0] for r in self._read("SELECT name FROM sessions ORDER BY created")]

    def classes(self, session: str) -> list[str]:
        row = self._read("SELECT classes FROM sessions WHERE name = ?", (session,))
        if not row:
            known = ", ".join(self.sessions()) or "none yet"
            raise LabelingError(f"no labeling session {session!r} in {self.path} (sessions: {known})")
        return list(json.loads(row[0][0]))

    def add_class(self, session: str, name: str) -> list[str]:
        """Add a class (the grid's "other / new class" entry); returns the classes."""
        name = str(name).strip()
        if not name:
            raise LabelValueError("a new class needs a name")
        self.classes(session)
        return self.open_session(session, [name])

    # -- claims ------------------------------------------------------------------------------------
    def claim(
        self, session: str, annotator: str, candidates: Iterable[str], n: int, *, source: str = "ranked"
    ) -> list[str]:
        """Claim up to ``n`` of ``candidates`` (in their order) for ``annotator``: those nobody has labeled and
        nobody else holds (``annotator``'s own open claims count as free: a restarted process gets them back). Returns
        the ids claimed, in order."""
        now = time.time()
        with self._write() as cur:
            labeled = {r[0] for r in cur.execute(CURRENT, (session,))}
            held = {
                r[0]: r[1]
                for r in cur.execute(
                    "SELECT sample_id, annotator FROM claims WHERE session = ? AND time > ? AND annotator != ?",
                    (session, now - self.claim_ttl, annotator),
                )
            }
            taken: list[str] = []
            for sample in candidates:
                if len(taken) >= n:
                    break
                if sample in labeled or sample in held or sample in taken:
                    continue
                taken.append(sample)
            cur.executemany(
                "INSERT OR REPLACE INTO claims (session, sample_id, annotator, time, source) VALUES (?, ?, ?, ?, ?)",
                [(session, s, annotator, now, source) for s in taken],
            )
        return taken

    def claimed(self, session: str, annotator: str) -> list[tuple[str, str]]:
        """``annotator``'s open claims (sample id, source): what to show again after a restart or an undo."""
        rows = self._read(
            # Newest claim first (an undone sample comes back before the rest), then in the order claimed.
            "SELECT sample_id, source FROM claims WHERE session = ? AND annotator = ? AND time > ? "
            "ORDER BY time DESC, rowid",
            (session, annotator, time.time() - self.claim_ttl),
        )
        return [(r[0], r[1]) for r in rows]

    def release(self, session: str, annotator: str, sample_ids: Iterable[str] | None = None) -> None:
        """Give back claims (all of ``annotator``'s when ``sample_ids`` is None), e.g. on skip."""
        with self._write() as cur:
            if sample_ids is None:
                cur.execute("DELETE FROM claims WHERE session = ? AND annotator = ?", (session, annotator))
            else:
                cur.executemany(
                    "DELETE FROM claims WHERE session = ? AND annotator = ? AND sample_id = ?",
                    [(session, annotator, s) for s in sample_ids],
                )

    # -- the queue: samples others flagged (the checker), shown before ranked ones -----------------
    def enqueue(self, session: str, samples: Iterable[tuple[str, float]], reason: str) -> int:
        """Queue samples for labeling ahead of the ranked ones, each with a score (higher first) and why; returns
        how many were new. A sample already queued keeps its place; a labeled one is not queued again."""
        now = time.time()
        with self._write() as cur:
            labeled = {r[0] for r in cur.execute(CURRENT, (session,))}
            rows = [(session, str(s), float(score), reason, now) for s, score in samples if str(s) not in labeled]
            before = cur.execute("SELECT COUNT(*) FROM queue WHERE session = ?", (session,)).fetchone()[0]
            cur.executemany(
                "INSERT OR IGNORE INTO queue (session, sample_id, score, reason, added) VALUES (?, ?, ?, ?, ?)", rows
            )
            after = cur.execute("SELECT COUNT(*) FROM queue WHERE session = ?", (session,)).fetchone()[0]
        return int(after - before)

    def queued(self, session: str) -> list[tuple[str, float, str]]:
        """The queue's unlabeled samples (id, score, reason), highest score first."""
        labeled = set(self.labels(session))
        rows = self._read(
            "SELECT sample_id, score, reason FROM queue WHERE session = ? ORDER BY score DESC, added", (session,)
        )
        return [(r[0], r[1], r[2]) for r in rows if r[0] not in labeled]

    # -- labels ------------------------------------------------------------------------------------
    def add_label(self, session: str, sample_id: str, label: str, *, annotator: str, source: str | None = None) -> int:
        """Commit one label; returns its sequence number once it is on disk.

        Raises :class:`LabelValueError` for a label outside the session's classes and :class:`LabelConflictError`
        when another annotator has labeled the sample or holds it.
        """
        label = str(label)
        sample_id = str(sample_id)
        now = time.time()
        with self._write() as cur:
            row = cur.execute("SELECT classes FROM sessions WHERE name = ?", (session,)).fetchone()
            if row is None:
                raise LabelingError(f"no labeling session {session!r} in {self.path}: open it first")
            classes = json.loads(row[0])
            if label not in classes:
                raise LabelValueError(
                    f"{label!r} is not a class of session {session!r} (classes: {', '.join(classes)}); pick one "
                    "of them, or add it first with store.add_class (the grid's 'other / new class')"
                )
            holder = cur.execute(
                "SELECT annotator, source FROM claims WHERE session = ? AND sample_id = ? AND time > ?",
                (session, sample_id, now - self.claim_ttl),
            ).fetchone()
            if holder is not None and holder[0] != annotator:
                raise LabelConflictError(
                    f"sample {sample_id!r} is being labeled by {holder[0]!r}; take the next one instead"
                )
            current = cur.execute(
                "SELECT annotator FROM labels WHERE session = ? AND sample_id = ? AND undone IS NULL "
                "ORDER BY seq DESC LIMIT 1",
                (session, sample_id),
            ).fetchone()
            if current is not None and current[0] != annotator:
                raise LabelConflictError(
                    f"sample {sample_id!r} was labeled by {current[0]!r}; labels are never overwritten by "
                    "another annotator (that annotator can undo it)"
                )
            origin = source or (holder[1] if holder is not None else "ranked")
            cur.execute(
                "INSERT INTO labels (session, sample_id, label, annotator, time, source) VALUES (?, ?, ?, ?, ?, ?)",
                (session, sample_id, label, annotator, now, origin),
            )
            seq = int(cur.lastrowid or 0)
            cur.execute("DELETE FROM claims WHERE session = ? AND sample_id = ?", (session, sample_id))
        return seq

    def undo(self, session: str, annotator: str) -> LabelRecord | None:
        """Undo ``annotator``'s latest label in ``session`` (None if there is none); the sample is claimed for
        ``annotator`` again, so it comes back to them first."""
        now = time.time()
        with self._write() as cur:
            row = cur.execute(
                "SELECT seq, session, sample_id, label, annotator, time, source, undone FROM labels "
                "WHERE session = ? AND annotator = ? AND undone IS NULL ORDER BY seq DESC LIMIT 1",
                (session, annotator),
            ).fetchone()
            if row is None:
                return None
            cur.execute("UPDATE labels SET undone = ? WHERE seq = ?", (now, row[0]))
            cur.execute(
                "INSERT OR REPLACE INTO claims (session, sample_id, annotator, time, source) VALUES (?, ?, ?, ?, ?)",
                (session, row[2], annotator, now, row[6]),
            )
        seq, session_, sample_id, label, who, when, source, _ = row
        return LabelRecord(seq, session_, sample_id, label, who, when, source, undone=now)

    def labels(self, session: str) -> dict[str, str]:
        """The current label of every labeled sample, in the order they were given."""
        return {r[0]: r[1] for r in self._read(CURRENT, (session,))}

    def current(self, session: str) -> list[LabelRecord]:
        """The current labels with who gave them, when, and why the sample was shown (``source``)."""
        return [
            LabelRecord(seq=r[5], session=session, sample_id=r[0], label=r[1], annotator=r[2], time=r[3],
                        source=r[4], undone=None)
            for r in self._read(CURRENT, (session,))
        ]  # fmt: skip

    def history(self, session: str) -> list[LabelRecord]:
        """Every label ever given in ``session``, undone ones included, oldest first."""
        rows = self._read(
            "SELECT seq, session, sample_id, label, annotator, time, source, undone FROM labels WHERE session = ? "
            "ORDER BY seq",
            (session,),
        )
        return [LabelRecord(*r) for r in rows]

    # -- export ------------------------------------------------------------------------------------
    def to_frame(self, session: str, *, history: bool = False) -> Any:  # a pandas.DataFrame
        """The current labels (or the whole history) as a DataFrame with times as timestamps."""
        import pandas as pd

        records = self.history(session) if history else self.current(session)
        frame = pd.DataFrame([r.__dict__ for r in records], columns=list(LabelRecord.__dataclass_fields__))
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        frame["undone"] = pd.to_datetime(frame["undone"], unit="s", utc=True)
        return frame

    def to_csv(self, session: str, path: str | Path, *, history: bool = False) -> Path:
        out = Path(path)
        self.to_frame(session, history=history).to_csv(out, index=False)
        return out

    def log_to_mlflow(self, session: str, artifact_file: str | None = None) -> str:
        """Log the labels (and the history) as CSV artifacts of the active MLflow run; returns the file name."""
        import tempfile

        import mlflow

        name = artifact_file or f"labels/{session}.csv"
        with tempfile.TemporaryDirectory(prefix="scanflow-labels-") as tmp:
            current = self.to_csv(session, Path(tmp) / Path(name).name)
            mlflow.log_artifact(str(current), str(Path(name).parent) if "/" in name else None)
            hist = self.to_csv(session, Path(tmp) / f"{Path(name).stem}.history.csv", history=True)
            mlflow.log_artifact(str(hist), str(Path(name).parent) if "/" in name else None)
        return name
