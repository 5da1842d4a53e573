"""A Jobs run whose driver (a process of its own, talking to the stand-in of the API server) is SIGKILLed while a
step's Job runs, then resumed with the Jobs backend: the killed attempt's Job is found by its labels and deleted
before the step runs again, under a name of its own, so that the step never has two Jobs at once (read from
the stand-in's history of changes). And the labels and names each attempt's Job carries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scanflow_jupyter.deploy.kubernetes import KubernetesApp
from scanflow_jupyter.deploy.kubernetes.backend import KubernetesBackend
from scanflow_jupyter.engine.backend import Task
from scanflow_jupyter.engine.events import NodeState
from scanflow_jupyter.engine.runner import resume
from scanflow_jupyter.workflow import Executor, flatten

from .conftest import add_namespace, stand_in_cluster
from .fakeapi import FakeAPI
from .test_runs import NS, echo_nodes, running

DRIVER = """
import sys
from kubernetes import client
from scanflow_jupyter.deploy.kubernetes import KubernetesApp
from scanflow_jupyter.deploy.kubernetes.client import Cluster
from scanflow_jupyter.workflow import load
cfg = client.Configuration()
cfg.host, cfg.retries = sys.argv[2], 0
cluster = Cluster(client.ApiClient(cfg), source="the stand-in")
KubernetesApp(load(sys.argv[1]), namespace=sys.argv[3], cluster=cluster, tag="t1", engine="jobs").run(tracking=False)
"""


def jobs_backend(k8s: KubernetesApp, kind: type[KubernetesBackend] = KubernetesBackend) -> KubernetesBackend:
    """The Jobs backend of ``k8s``'s batch workflow, as its runs make it."""
    wf = k8s.app.workflow("main")
    nodes = {a: n for a, n in flatten(wf).nodes.items() if isinstance(n, Executor)}
    return kind(k8s.cluster, k8s.app, k8s.options(k8s.image_names()), nodes, wf.name)


def phases_before_deletion(fake: FakeAPI, name: str) -> list[str]:
    """The phases the pods of Job ``name`` went through, from the stand-in's history, up to their deletion."""
    phases = []
    for _version, event, key, obj in fake.events:
        if key[0] == "pods" and any(o.get("name") == name for o in obj["metadata"].get("ownerReferences") or []):
            phases.append("deleted" if event == "DELETED" else obj["status"]["phase"])
    return phases


def most_at_once(fake: FakeAPI, plural: str, node: str) -> int:
    """The most objects of ``plural`` of step ``node`` that ever existed at once, from the stand-in's history."""
    alive: set[str] = set()
    most = 0
    for _version, event, key, obj in fake.events:
        if key[0] != plural or obj["metadata"].get("labels", {}).get("scanflow.io/node") != node:
            continue
        if event == "DELETED":
            alive.discard(key[2])
        else:
            alive.add(key[2])
        most = max(most, len(alive))
    return most


def test_a_sigkilled_jobs_run_resumes_with_its_orphan_job_deleted_first(
    fake: FakeAPI, make_app: Callable[..., Any]
) -> None:
    add_namespace(fake, NS)
    app = make_app(echo_nodes())
    k8s = KubernetesApp(app, namespace=NS, cluster=stand_in_cluster(fake), tag="t1", engine="jobs")
    fake.release.clear()  # step a's pod stays Running: the driver is killed while it runs
    try:
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(app.folder), fake.url, NS])
        try:
            fake.wait_until(lambda: running(fake, "a") or driver.poll() is not None, "step a's pod Running", 120)
            assert driver.poll() is None, "the driver ended before step a's pod ran"
        finally:
            os.kill(driver.pid, signal.SIGKILL)
            driver.wait()
        (orphan,) = [o for k, o in fake.objects.items() if k[0] == "jobs"]
        labels = orphan["metadata"]["labels"]
        (run_id,) = os.listdir(Path(str(app.folder)) / ".scanflow" / "runs")
        assert labels["scanflow.io/run"] == run_id and labels["scanflow.io/node"] == "a"
        assert labels["scanflow.io/attempt"].startswith("1-")

        class Releasing(KubernetesBackend):
            """Lets the stand-in's pods end once the orphan is dealt with (it must still run until then)."""

            def recover(self, run_id: str) -> list[str]:
                names = super().recover(run_id)
                fake.release.set()
                return names

        result = resume(app, run_id, backend=jobs_backend(k8s, Releasing), tracking=False)
    finally:
        fake.release.set()
    assert result.ok and result.states == dict.fromkeys("abc", NodeState.SUCCEEDED)
    jobs = {k[2]: o for k, o in fake.objects.items() if k[0] == "jobs"}
    assert orphan["metadata"]["name"] not in jobs  # deleted, with its pod
    (again,) = [o for o in jobs.values() if o["metadata"]["labels"]["scanflow.io/node"] == "a"]
    assert again["metadata"]["labels"]["scanflow.io/attempt"] != labels["scanflow.io/attempt"]
    assert most_at_once(fake, "jobs", "a") == 1 and most_at_once(fake, "pods", "a") == 1
    deletes = [r for r in fake.requests if r[0] == "DELETE" and orphan["metadata"]["name"] in r[1]]
    assert deletes  # the resume deleted it (the stand-in never removes a Job by itself)
    phases = phases_before_deletion(fake, orphan["metadata"]["name"])
    assert phases[-2:] == ["Running", "deleted"]  # it still ran when the resume found it


def test_each_attempt_job_has_its_own_name_and_labels(fake: FakeAPI, make_app: Callable[..., Any]) -> None:
    app = make_app(echo_nodes())
    backend = jobs_backend(KubernetesApp(app, namespace=NS, cluster=stand_in_cluster(fake), tag="t1", engine="jobs"))
    folder = Path(str(app.folder))
    task = Task("20261123-113000-3f9a1c", "a", ["script", "step.py"], folder, {}, folder / "o", folder / "e")
    first, second = backend._handle(task), backend._handle(task)  # the same attempt number, resumed
    assert first.name != second.name and first.attempt != second.attempt
    assert first.name.startswith("demo-a-113000-3f9a1c-a1-") and first.attempt.startswith("1-")
    job = backend.job(task, first.name, "mlflow-run", first.attempt)
    assert job["metadata"]["name"] == first.name
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert labels["scanflow.io/run"] == task.run_id and labels["scanflow.io/node"] == "a"
        assert labels["scanflow.io/attempt"] == first.attempt
    pods = backend.pod_selector(first)
    assert f"scanflow.io/attempt={first.attempt}" in pods and backend.run_selector(task.run_id) in pods
    assert backend.run_selector(task.run_id).endswith(f"scanflow.io/run={task.run_id}")  # every attempt's
