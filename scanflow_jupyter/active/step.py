"""The labeling step: samples the checker flags in a production batch join a labeling session's pool and queue.

As a workflow node, after a checker step (or by an agent)::

    - name: queue-for-labeling
      function: scanflow_jupyter.active.step:queue_flagged
      parameters:
        model-uri: models:/digits-checker/1
        batch: data/batch.npz
        pool: labeling/pool.npz
        session: digits
      depends_on: [check]

The batch's samples that score above the detector's threshold are appended to the pool file (``x`` and ``ids``,
created if missing; a sample id already there is not added twice) and queued in the label store, most anomalous
first, so the next labeling batch shows them before any ranked sample. A session opened on the pool file
(``LabelingSession(load_batch(pool).x, ..., ids=load_batch(pool).ids, name=session)``) picks them up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..checking.data import load_batch, save_npz
from ..errors import ShapeMismatchError
from ..workflow import Executor, Parameter
from ..workflow.params import ParamValue, infer_type
from .store import LabelStore

__all__ = ["QUEUE_FUNCTION", "append_to_pool", "labeling_node", "queue_flagged", "queue_samples"]

QUEUE_FUNCTION = f"{__name__}:queue_flagged"


def queue_flagged(
    model_uri: str,
    batch: str,
    pool: str = "labeling/pool.npz",
    session: str = "session",
    store: str = ".scanflow/labels.db",
    classes: str = "",
    limit: int = 200,
) -> dict[str, Any]:
    """Append the batch's samples above the detector's threshold to ``pool`` and queue them in ``session``.

    Parameters
    ----------
    model_uri
        A detector logged with ``detector.log_model`` (or a model folder).
    batch
        The production batch: ``.npy``, ``.npz`` (``x``, ``ids``) or ``.csv``.
    pool
        The labeling pool file (``.npz`` with ``x`` and ``ids``), created when missing.
    session, store
        The labeling session and its label store file.
    classes
        Comma-separated class names, to create the session when it does not exist yet.
    limit
        At most this many samples per batch (the most anomalous).

    Returns
    -------
    dict
        ``flagged`` (over the threshold), ``queued`` (new in the queue), ``pool_size``.
    """
    from ..checking.mlflow_model import load_detector

    detector = load_detector(model_uri)
    data = load_batch(batch)
    scores = detector.score(data.x)
    over = np.flatnonzero(scores > detector.threshold)
    over = over[np.argsort(-scores[over], kind="stable")][:limit]
    result = queue_samples(
        data.x[over], [data.ids[i] for i in over], [float(scores[i]) for i in over],
        pool=pool, session=session, store=store, classes=classes, source=batch,
    )  # fmt: skip
    _log(result, model_uri, batch)
    print(f"{result['flagged']} samples over the threshold; {result['queued']} queued for labeling in {session!r}")
    return result


def queue_samples(
    x: Any,
    ids: list[str],
    scores: list[float],
    *,
    pool: str | os.PathLike[str],
    session: str,
    store: str | os.PathLike[str],
    classes: str = "",
    source: str = "the batch",
    reason: str = "flagged by the checker",
) -> dict[str, Any]:
    """Append samples already scored (``x`` with their ``ids``, most anomalous first) to ``pool`` and queue them in
    ``session`` with their ``scores``; what :func:`queue_flagged` does after scoring (an agent that has checked the
    batch calls this). Returns ``flagged`` (samples given), ``queued`` (new in the queue) and ``pool_size``."""
    pool_size = append_to_pool(pool, x, ids, source=source)
    labels = LabelStore(Path(store))
    try:
        labels.open_session(session, [c for c in classes.split(",") if c.strip()])
        queued = labels.enqueue(session, list(zip(ids, scores, strict=True)), reason=reason)
    finally:
        labels.close()
    return {"flagged": len(ids), "queued": queued, "pool_size": pool_size}


def append_to_pool(pool: str | os.PathLike[str], x: Any, ids: list[str], *, source: str = "the batch") -> int:
    """Append the samples ``x`` with ids ``ids`` to the pool file ``pool`` (``.npz`` with ``x`` and ``ids``,
    created if missing); a sample id already there is not added again. Returns the pool's size.

    Safe with several writers at once (a checker agent and a notebook, two agents, in threads or processes): the
    read-append-write holds an exclusive lock (``flock`` on ``.<pool>.lock`` beside it, released if its holder
    dies), and the new pool replaces the old in one rename, so no append is lost, none is made twice, and a reader
    sees the old pool or the new one.
    """
    samples = np.asarray(x, dtype=np.float32)
    pool_file = Path(pool)
    pool_file.parent.mkdir(parents=True, exist_ok=True)
    with _locked(pool_file.with_name(f".{pool_file.name}.lock")):
        if pool_file.is_file():
            existing = load_batch(pool_file)
            if existing.x.shape[1:] != samples.shape[1:]:
                raise ShapeMismatchError(
                    f"the pool {os.fspath(pool)!r} holds samples of shape {existing.x.shape[1:]}, the batch "
                    f"{source!r} {samples.shape[1:]}: give each kind of data a pool of its own"
                )
            pool_x, pool_ids = existing.x, list(existing.ids)
        else:
            pool_x, pool_ids = np.zeros((0, *samples.shape[1:]), dtype=np.float32), []
        known = set(pool_ids)
        new: list[int] = []
        for i, sample_id in enumerate(ids):
            if sample_id not in known:  # twice in ``ids`` counts once, too
                known.add(sample_id)
                new.append(i)
        if new:
            pool_x = np.concatenate([pool_x, samples[new]])
            pool_ids = pool_ids + [ids[i] for i in new]
            save_npz(pool_file, x=pool_x, ids=np.array(pool_ids))
        return len(pool_ids)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) while the block runs; the kernel releases it when
    the holder dies, so a killed writer never blocks the next."""
    import fcntl

    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _log(result: dict[str, Any], model_uri: str, batch: str) -> None:
    """Record the counts in the step's MLflow run, when there is one (a workflow step has MLFLOW_RUN_ID)."""
    if not os.environ.get("MLFLOW_RUN_ID"):
        return
    import mlflow

    with mlflow.start_run():  # resumes the step's own run
        mlflow.log_metrics({f"labeling.{k}": float(v) for k, v in result.items()})
        mlflow.log_params({"labeling.model_uri": model_uri, "labeling.batch": batch})


def labeling_node(
    name: str = "queue-for-labeling",
    *,
    model_uri: str,
    batch: str,
    pool: str = "labeling/pool.npz",
    session: str = "session",
    classes: str = "",
    depends_on: list[str] | None = None,
) -> Executor:
    """A workflow node that runs :func:`queue_flagged`.

    Example
    -------
    >>> labeling_node(model_uri="models:/digits-checker/1", batch="data/batch.npz", depends_on=["check"]).function
    'scanflow_jupyter.active.step:queue_flagged'
    """
    values: dict[str, ParamValue] = {
        "model-uri": model_uri,
        "batch": batch,
        "pool": pool,
        "session": session,
        "classes": classes,
    }
    return Executor(
        name=name,
        function=QUEUE_FUNCTION,
        parameters={key: Parameter(type=infer_type(value), default=value) for key, value in values.items()},
        depends_on=list(depends_on or []),
    )
