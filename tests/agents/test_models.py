"""Models as agents fetch them: concurrent downloads of one version each use a temporary folder of their own."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from scanflow_jupyter.agents import Agent, FunctionSensor
from scanflow_jupyter.agents.models import local_model

from .test_builtin import _register


def test_concurrent_downloads_of_one_model_do_not_collide(app: Any, tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    version = _register(app, DummyClassifier().fit([[0], [1]], [0, 1]))
    ctx = Agent("fetcher", sensors=[FunctionSensor("x", lambda ctx: 1)], rules=[], app=app, record=False).ctx
    ctx.model_cache = tmp_path / "models"  # under tmp_path (by default a temporary folder the agent removes)
    start = threading.Barrier(4)
    got: list[Path] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        start.wait()  # all four at once
        try:
            got.append(local_model(ctx, f"models:/clf/{version}"))
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(set(got)) == 1 and (got[0] / "MLmodel").is_file()
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [f"clf-v{version}"]  # no temporary folder left
