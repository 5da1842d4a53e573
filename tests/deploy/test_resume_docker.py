"""A Docker run whose driver is SIGKILLed while a step's container runs, then resumed: the killed attempt's
container is found by its labels and stopped before the step runs again, under a name of its own (no 409 "name
already in use"), so that the step never has two containers at once (checked by label, with the docker SDK, for
the whole resume)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanflow_jupyter.deploy.docker import DockerApp
from scanflow_jupyter.workflow import load

from .conftest import BASE_IMAGE

pytestmark = [pytest.mark.docker, pytest.mark.slow]

DRIVER = """
import sys
from scanflow_jupyter.deploy.docker import DockerApp
from scanflow_jupyter.workflow import load
DockerApp(load(sys.argv[1]), base_image=sys.argv[2]).run()
"""


def step_filter(app: str, node: str) -> dict[str, Any]:
    return {"label": ["scanflow.managed=true", f"scanflow.app={app}", "scanflow.role=step", f"scanflow.node={node}"]}


class Watch:
    """Counts, until stopped, the running containers of one step, by label (the most seen at once)."""

    def __init__(self, client: Any, app: str, node: str) -> None:
        self.client, self.filters = client, step_filter(app, node)
        self.most = 0
        self.seen: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            running = [c["Names"][0] for c in self.client.api.containers(filters={**self.filters, "status": "running"})]
            self.seen.update(running)
            self.most = max(self.most, len(running))
            self.stop.wait(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.timeout(1800)
def test_a_sigkilled_docker_run_resumes_without_a_409_or_a_second_writer(
    engine: Any, make_app: Callable[..., Any], tmp_path: Path
) -> None:
    nodes = [
        {"name": "first", "script": "step.py"},
        {"name": "slow", "script": "step.py", "parameters": {"sleep": 600.0}, "depends_on": ["first"]},
        {"name": "last", "script": "step.py", "depends_on": ["slow"]},
    ]
    app = make_app(nodes, name="dk-resume")
    folder = Path(str(app.folder))
    deployment = DockerApp(app, base_image=BASE_IMAGE)
    try:
        deployment.build(tracker=True)  # before the driver starts: it then only runs
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(folder), BASE_IMAGE], env=os.environ.copy())
        try:
            running = {**step_filter("dk-resume", "slow"), "status": "running"}
            wait_for(lambda: engine.api.containers(filters=running) or driver.poll() is not None, 600)
            assert driver.poll() is None, "the driver ended before the slow step's container ran"
        finally:
            os.kill(driver.pid, signal.SIGKILL)  # no cleanup, no finally: the container runs on
            driver.wait()
        (orphan,) = engine.api.containers(filters=running)  # the killed attempt's, still running
        assert orphan["Labels"]["scanflow.attempt"].startswith("1-")
        (run_id,) = os.listdir(folder / ".scanflow" / "runs")
        assert orphan["Labels"]["scanflow.run_id"] == run_id

        # The step is quick now: the resume runs it again to its end.
        spec = yaml.safe_load((folder / "scanflow.yaml").read_text())
        spec["workflows"][0]["nodes"][1]["parameters"]["sleep"] = 0.0
        (folder / "scanflow.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        watch = Watch(engine, "dk-resume", "slow")
        try:
            result = DockerApp(load(folder), base_image=BASE_IMAGE).resume(run_id)  # raised on a 409 before
        finally:
            watch.close()
        assert result.ok and result.run_id == run_id
        assert {a: s.value for a, s in result.states.items()} == {
            "first": "succeeded",
            "slow": "succeeded",
            "last": "succeeded",
        }
        assert watch.most == 1, watch.seen  # one container of the step at a time: the orphan was stopped first
        assert len(watch.seen) == 2 and orphan["Names"][0] in watch.seen  # the orphan, then the new one
        ids = {c["Id"] for c in engine.api.containers(all=True, filters=step_filter("dk-resume", "slow"))}
        assert orphan["Id"] not in ids  # stopped and removed
        assert "done slow" in (folder / ".scanflow" / "runs" / run_id / "logs" / "slow" / "stdout.txt").read_text()
    finally:
        deployment.cleanup()
    assert deployment.status().empty


def wait_for(condition: Callable[[], object], timeout: float) -> None:
    """Wait until ``condition()`` is true (checked every 0.1 s), failing after ``timeout`` seconds."""
    done = threading.Event()
    for _ in range(int(timeout * 10)):
        if condition():
            return
        done.wait(0.1)
    pytest.fail(f"not reached in {timeout:g} s")
