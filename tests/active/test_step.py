"""The labeling step: the checker's flagged samples join the pool and come first in the next labeling batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from scanflow_jupyter.active import LabelingSession, LabelStore
from scanflow_jupyter.active.step import labeling_node, queue_flagged
from scanflow_jupyter.checking import load_batch
from scanflow_jupyter.errors import ShapeMismatchError

Digits = tuple[np.ndarray, np.ndarray]


@pytest.fixture
def model_uri(fitted: Any, tmp_path: Path) -> Iterator[str]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:  # an experiment of its own: the Default one keeps its artifacts in ./mlruns of the working directory
        experiment = mlflow.MlflowClient().create_experiment("checker", (tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            yield fitted.log_model().model_uri
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_flagged_samples_join_the_pool_and_come_first(model_uri: str, digits: Digits, tmp_path: Path) -> None:
    x, y = digits
    rows = np.r_[np.flatnonzero(y != 0)[900:980], np.flatnonzero(y == 0)[:20]]  # 20 zeros: the detector's novelty
    np.savez(tmp_path / "batch.npz", x=x[rows], ids=np.array([f"prod-{r}" for r in rows]))
    pool, store = tmp_path / "labeling" / "pool.npz", tmp_path / "labels.db"
    options = {"pool": str(pool), "session": "d", "store": str(store), "classes": ",".join(map(str, range(10)))}

    result = queue_flagged(model_uri, str(tmp_path / "batch.npz"), **options)
    assert result["flagged"] >= 15 and result["queued"] == result["flagged"] == result["pool_size"]
    saved = load_batch(pool)
    flagged_zeros = sum(y[int(i.split("-")[1])] == 0 for i in saved.ids)
    assert flagged_zeros >= 12  # most of what the checker flags is the new class
    again = queue_flagged(model_uri, str(tmp_path / "batch.npz"), **options)
    assert again["queued"] == 0 and again["pool_size"] == result["pool_size"]  # nothing twice

    session = LabelingSession(
        saved.x, LogisticRegression(), classes=range(10), ids=saved.ids, name="d", store=store, batch_size=5
    )
    batch = session.next_batch()
    assert {s.source for s in batch} == {"flagged"} and all("flagged by the checker" in s.why for s in batch)
    queue = LabelStore(store).queued("d")
    assert [s.id for s in batch] == [q[0] for q in queue[:5]]  # the most anomalous first


def test_a_pool_of_another_shape_is_refused(model_uri: str, digits: Digits, tmp_path: Path) -> None:
    x, _ = digits
    np.savez(tmp_path / "batch.npz", x=x[:50])
    np.savez(tmp_path / "pool.npz", x=np.zeros((3, 10)), ids=np.array(["a", "b", "c"]))
    with pytest.raises(ShapeMismatchError, match=r"the pool .* holds samples of shape \(10,\), the batch .* \(64,\)"):
        queue_flagged(
            model_uri, str(tmp_path / "batch.npz"), pool=str(tmp_path / "pool.npz"), store=str(tmp_path / "l.db")
        )


def test_labeling_node() -> None:
    node = labeling_node(model_uri="models:/c/1", batch="b.npz", session="d", depends_on=["check"])
    assert node.function == "scanflow_jupyter.active.step:queue_flagged" and node.depends_on == ["check"]
    assert node.parameters["session"].default == "d"
