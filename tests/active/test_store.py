"""The label store: labels on disk at once, undo history, claims that keep two annotators apart, and exports;
with real processes for the kill and the concurrent annotators."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scanflow_jupyter.active import LabelStore
from scanflow_jupyter.errors import LabelConflictError, LabelingError, LabelValueError


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    s = LabelStore(tmp_path / "labels.db")
    s.open_session("digits", ["0", "1", "2"])
    return s


def test_labels_undo_and_history(store: LabelStore) -> None:
    assert store.claim("digits", "ana", ["a", "b", "c"], 2) == ["a", "b"]
    store.add_label("digits", "a", "1", annotator="ana")
    store.add_label("digits", "b", "2", annotator="ana")
    assert store.labels("digits") == {"a": "1", "b": "2"}
    undone = store.undo("digits", "ana")
    assert undone is not None and undone.sample_id == "b" and undone.undone is not None
    assert store.labels("digits") == {"a": "1"}
    assert store.claimed("digits", "ana") == [("b", "ranked")]  # back to the same annotator, first
    store.add_label("digits", "b", "0", annotator="ana")
    store.add_label("digits", "a", "2", annotator="ana")  # a relabel by the same person: the latest counts
    assert store.labels("digits") == {"b": "0", "a": "2"}
    history = store.history("digits")
    assert [(r.sample_id, r.label, r.undone is not None) for r in history] == [
        ("a", "1", False),
        ("b", "2", True),
        ("b", "0", False),
        ("a", "2", False),
    ]
    assert store.undo("digits", "bob") is None


def test_two_annotators_never_share_or_overwrite(store: LabelStore) -> None:
    assert store.claim("digits", "ana", ["a", "b", "c", "d"], 2) == ["a", "b"]
    assert store.claim("digits", "bob", ["a", "b", "c", "d"], 2) == ["c", "d"]
    with pytest.raises(LabelConflictError, match="sample 'a' is being labeled by 'ana'"):
        store.add_label("digits", "a", "1", annotator="bob")
    store.add_label("digits", "a", "1", annotator="ana")
    with pytest.raises(LabelConflictError, match="sample 'a' was labeled by 'ana'; labels are never overwritten"):
        store.add_label("digits", "a", "2", annotator="bob")
    # bob gets his own open claims back, then a new sample; never ana's.
    assert store.claim("digits", "bob", ["a", "b", "c", "d", "e"], 5) == ["c", "d", "e"]


def test_expired_claims_are_free_again(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "l.db", claim_ttl=0.05)
    store.open_session("s", ["x"])
    assert store.claim("s", "ana", ["a"], 1) == ["a"]
    time.sleep(0.1)
    assert store.claim("s", "bob", ["a"], 1) == ["a"]


def test_new_class_and_bad_labels(store: LabelStore) -> None:
    with pytest.raises(LabelValueError, match=r"'7' is not a class of session 'digits' \(classes: 0, 1, 2\)"):
        store.add_label("digits", "a", "7", annotator="ana")
    assert store.add_class("digits", "other") == ["0", "1", "2", "other"]
    store.add_label("digits", "a", "other", annotator="ana")
    with pytest.raises(LabelingError, match=r"no labeling session 'nope'.*sessions: digits"):
        store.classes("nope")
    with pytest.raises(LabelValueError, match="a new class needs a name"):
        store.add_class("digits", "  ")


def test_exports(store: LabelStore, tmp_path: Path) -> None:
    import mlflow

    store.add_label("digits", "<b>a</b>", "1", annotator="ana")
    store.add_label("digits", "b", "2", annotator="ana")
    store.undo("digits", "ana")
    frame = store.to_frame("digits")
    assert list(frame["sample_id"]) == ["<b>a</b>"] and str(frame["time"].dtype).startswith("datetime64")
    assert len(store.to_frame("digits", history=True)) == 2
    csv = store.to_csv("digits", tmp_path / "labels.csv").read_text()
    assert csv.splitlines()[0].startswith("seq,session,sample_id,label,annotator,time,source,undone")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:  # an experiment of its own: the Default one keeps its artifacts in ./mlruns of the working directory
        experiment = mlflow.MlflowClient().create_experiment("labels", (tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment) as run:
            name = store.log_to_mlflow("digits")
        files = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "labels")}
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    assert name == "labels/digits.csv" and files == {"labels/digits.csv", "labels/digits.history.csv"}


LABELER = textwrap.dedent(
    """
    import os, sys, time
    from scanflow_jupyter.active import LabelStore

    path, annotator, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    go = sys.argv[4] if len(sys.argv) > 4 else None
    store = LabelStore(path)
    store.open_session("s", ["a", "b"])
    ids = [f"s{i}" for i in range(n)]
    if go:
        open(go + "." + annotator, "w").close()  # ready: imported, store open
    while go and not os.path.exists(go):  # both annotators start together
        time.sleep(0.01)
    while True:
        batch = store.claim("s", annotator, ids, 5)
        if not batch:
            break
        for sample in batch:
            store.add_label("s", sample, "a", annotator=annotator)
            print(sample, flush=True)  # acknowledged: on disk
            time.sleep(0.005)  # a person takes seconds; without a pause one writer can starve the other
    """
)


def test_two_annotator_processes_label_500_samples(tmp_path: Path) -> None:
    script = tmp_path / "labeler.py"
    script.write_text(LABELER)
    db = tmp_path / "labels.db"
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, str(script), str(db), who, "500", str(go)], stdout=subprocess.PIPE, text=True)
        for who in ("ana", "bob")
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"go.{who}").exists() for who in ("ana", "bob")):  # both ready: start them together
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "the annotators did not start"
        time.sleep(0.01)
    go.touch()
    acknowledged = {who: p.communicate(timeout=300)[0].split() for who, p in zip(("ana", "bob"), procs, strict=True)}
    assert all(p.returncode == 0 for p in procs)
    both = acknowledged["ana"] + acknowledged["bob"]
    assert len(both) == len(set(both)) == 500  # no sample labeled twice, none lost
    assert acknowledged["ana"] and acknowledged["bob"]  # both took part
    store = LabelStore(db)
    history = store.history("s")
    assert len(history) == 500 and {r.annotator for r in history} == {"ana", "bob"}


def test_every_acknowledged_label_survives_sigkill(tmp_path: Path) -> None:
    """Kill the labeling process at random points during 100 labels; every label it acknowledged is stored."""
    import random

    script = tmp_path / "labeler.py"
    script.write_text(LABELER)
    db = tmp_path / "labels.db"
    rng = random.Random(0)
    acknowledged: set[str] = set()
    rounds = 0
    while len(acknowledged) < 100 and rounds < 50:
        rounds += 1
        proc = subprocess.Popen(
            [sys.executable, str(script), str(db), "ana", "100"], stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert proc.stdout is not None
        stop_after = rng.randint(1, 15)
        for _ in range(stop_after):
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged.add(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stored = set(LabelStore(db).labels("s"))
        assert acknowledged <= stored, f"lost {sorted(acknowledged - stored)} after kill {rounds}"
    assert len(LabelStore(db).labels("s")) == 100 and rounds > 5


def test_a_failed_commit_is_rolled_back_and_the_store_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite refuses the COMMIT of one label (its authorizer denies it, as a full disk or an I/O error would fail
    it): the label is not saved, the error says so, and the next label is taken (the transaction is not left open,
    which would refuse every later write with "cannot start a transaction within a transaction")."""
    import sqlite3

    from scanflow_jupyter.active import store as store_module

    refuse = {"commits": 0}
    real_connect = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        # No statement cache: SQLite asks the authorizer when it prepares a statement, and a cached COMMIT is not.
        conn = real_connect(*args, **{**kwargs, "cached_statements": 0})  # type: ignore[arg-type]

        def authorizer(action: int, arg1: str | None, *_: object) -> int:
            if action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT" and refuse["commits"]:
                refuse["commits"] -= 1
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        conn.set_authorizer(authorizer)
        return conn

    monkeypatch.setattr(store_module.sqlite3, "connect", connect)  # the store's connections only live this long
    store = LabelStore(tmp_path / "labels.db")
    store.open_session("s", ["a", "b"])
    refuse["commits"] = 1
    with pytest.raises(LabelingError, match=r"the label store \S+labels\.db could not commit \(not authorized\): "
                       r"nothing of this change was saved"):  # fmt: skip
        store.add_label("s", "x1", "a", annotator="ana")
    assert store.labels("s") == {}
    store.add_label("s", "x2", "b", annotator="ana")  # the next write goes through
    monkeypatch.undo()
    assert LabelStore(tmp_path / "labels.db").labels("s") == {"x2": "b"}  # on disk, read by another connection
