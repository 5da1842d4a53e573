"""The Checker agent with a sequence detector and its integrity checks: no code beyond pointing it at the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scanflow_jupyter.agents import Checker
from scanflow_jupyter.checking import SequenceDetector
from scanflow_jupyter.tracking.store import use_store

from .conftest import experiment_runs


def _series(n: int, seed: int) -> np.ndarray:
    t = np.arange(n)
    return np.c_[np.sin(t / 2), np.cos(t / 3)] + np.random.default_rng(seed).normal(0, 0.05, (n, 2))


def test_the_checker_agent_checks_series_with_a_sequence_detector(app: Any, client: Any, tmp_path: Path) -> None:
    import mlflow

    detector = SequenceDetector(window=16, filters=(8, 8), code_size=4, epochs=4, progress=False).fit(_series(3000, 0))
    use_store(app, "detectors")
    try:
        uri = detector.log_model(registered_model_name="pump-checker").registered_uri
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
    incoming = app.folder / "work" / "incoming"
    incoming.mkdir(parents=True)
    broken = _series(640, 1)
    broken[100:400, 1] += 3.0  # a long level shift: drift, and values beyond the reference's range
    np.save(incoming / "b1.npy", broken)

    checker = Checker(app, detector=uri, batches="work/incoming", pattern="*.npy")
    [decision] = checker.tick()
    assert decision.rule == "drift" and decision.ok, decision.error
    flagged = [window for window, _ in decision.values["batch"]["flagged"]]
    # Windows, named by the batch file's row ids of their first and last steps.
    assert flagged and all(".." in w for w in flagged)
    first = int(flagged[0].split("..")[0])
    assert 100 - 16 < first < 400
    [run] = experiment_runs(client, "loop", "tags.`scanflow.check` = 'true'")
    assert run.data.metrics["integrity.ranges.passed"] == 0.0
    assert run.data.tags["scanflow.check.failed_checks"] == "ranges"
