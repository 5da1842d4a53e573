"""Deploying and running an application on the stand-in of the API server: the tracker and services, batch
runs as an Argo Workflow (watched; retries; cancel) and as Jobs driven by the engine's scheduler (states,
logs, retries, timeouts, cancel, an image that cannot be pulled, the MLflow run tree), status and removal.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.deploy.base import DeployEvent, Endpoint
from scanflow_jupyter.deploy.kubernetes import KubernetesApp
from scanflow_jupyter.engine.events import Event, NodeState
from scanflow_jupyter.engine.runner import RUN_ERROR, RunResult
from scanflow_jupyter.errors import BackendError, MissingSecretError, ScanflowError, StepFailedError

from .conftest import add_namespace, stand_in_cluster
from .fakeapi import FakeAPI

NS = "ml"


def echo_nodes(**extra: dict[str, Any]) -> list[dict[str, Any]]:
    """a -> b -> c, each the echo step with a ``fail`` and a ``sleep`` parameter."""
    nodes = []
    for name, after in (("a", []), ("b", ["a"]), ("c", ["b"])):
        node: dict[str, Any] = {
            "name": name,
            "script": "step.py",
            "parameters": {"fail": False, "sleep": 0.0},
            "depends_on": after,
        }
        node.update(extra.get(name, {}))
        nodes.append(node)
    return nodes


@pytest.fixture
def deploy(fake: FakeAPI, make_app: Callable[..., Any]) -> Callable[..., KubernetesApp]:
    add_namespace(fake, NS)

    def make(nodes: list[dict[str, Any]] | None = None, **kw: Any) -> KubernetesApp:
        app = make_app(nodes or echo_nodes())
        kw.setdefault("tag", "t1")
        return KubernetesApp(app, namespace=NS, cluster=stand_in_cluster(fake), **kw)

    return make


def kinds(fake: FakeAPI, plural: str) -> list[str]:
    return sorted(k[2] for k in fake.objects if k[0] == plural and k[1] == NS)


def in_background(run: Callable[[], Any]) -> Callable[..., Any]:
    """Start ``run`` on a thread of its own; the function returned waits for its result (or its error)."""
    ended: list[tuple[Any, BaseException | None]] = []

    def target() -> None:
        try:
            ended.append((run(), None))
        except BaseException as exc:
            ended.append((None, exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()

    def result(timeout: float = 60.0) -> Any:
        thread.join(timeout)
        assert ended, f"the run was still going after {timeout:g} s"
        value, error = ended[0]
        if error is not None:
            raise error
        return value

    return result


def running(fake: FakeAPI, node: str) -> bool:
    """Whether step ``node``'s pod is Running (called under the stand-in's lock)."""
    return any(
        key[0] == "pods"
        and pod["metadata"].get("labels", {}).get("scanflow.io/node") == node
        and pod["status"]["phase"] == "Running"
        for key, pod in fake.objects.items()
    )


def job_of(fake: FakeAPI, node: str) -> tuple[str, str, str]:
    (key,) = [k for k, o in fake.objects.items() if k[0] == "jobs" and
              o["metadata"].get("labels", {}).get("scanflow.io/node") == node]  # fmt: skip
    return key


# -- deploying --------------------------------------------------------------------------------------------
def test_start_applies_the_base_and_waits_for_the_tracker(fake: FakeAPI, tabular_app: Any) -> None:
    k8s = KubernetesApp(tabular_app, tag="t1", cluster=stand_in_cluster(fake))
    events: list[DeployEvent] = []
    assert k8s.start(on_event=events.append) == "http://tabular-tracker:5000"
    assert events[0] == DeployEvent.progress("applied Namespace scanflow-tabular")
    ns = "scanflow-tabular"
    assert {k[2] for k in fake.objects if k[0] == "deployments" and k[1] == ns} == {"tabular-tracker"}
    assert {k[2] for k in fake.objects if k[0] == "persistentvolumeclaims"} == {"tabular-data", "tabular-tracker-store"}
    assert k8s.start() == "http://tabular-tracker:5000"  # applying again changes nothing
    served = k8s.serve("predictor")
    assert served == Endpoint("predictor", "tabular-predictor", "http://tabular-predictor.scanflow-tabular:8080", 8080)
    status = str(k8s.status())
    assert "Deployment tabular-tracker: 1/1 ready" in status and "Deployment tabular-predictor: 1/1 ready" in status
    assert sorted(k8s.stop()) == [
        "Deployment tabular-predictor",
        "Deployment tabular-tracker",
        "Service tabular-predictor",
        "Service tabular-tracker",
    ]
    gone = k8s.cleanup()
    assert ("Namespace", "scanflow-tabular") in [(o.kind, o.name) for o in gone.objects]
    assert not fake.objects


def test_a_missing_pull_secret_stops_before_any_workload(fake: FakeAPI, tabular_app: Any) -> None:
    k8s = KubernetesApp(tabular_app, tag="t1", image_pull_secrets=["regcred"], cluster=stand_in_cluster(fake))
    with pytest.raises(MissingSecretError, match="'regcred' does not exist in namespace 'scanflow-tabular'"):
        k8s.start()
    assert not [k for k in fake.objects if k[0] in ("deployments", "persistentvolumeclaims")]
    assert ("serviceaccounts", "scanflow-tabular", "tabular-runner") in fake.objects


# -- Argo ---------------------------------------------------------------------------------------------------
def test_an_argo_run_is_submitted_and_watched(fake: FakeAPI, tabular_app: Any) -> None:
    add_namespace(fake, "scanflow-tabular")
    k8s = KubernetesApp(tabular_app, tag="t1", cluster=stand_in_cluster(fake))
    events: list[Event] = []
    logs: list[tuple[str, str]] = []
    progress: list[DeployEvent] = []
    result = k8s.run(
        "pipeline",
        on_event=events.append,
        on_progress=progress.append,
        on_log=lambda n, _s, line: logs.append((n, line)),
    )
    assert result.ok and result.run_id.startswith("tabular-pipeline-")
    # The engine's result, as for a Jobs run: its state says which workflow Argo ran.
    assert isinstance(result, RunResult) and (result.state.run_id, result.state.workflow) == (result.run_id, "pipeline")
    assert progress == [DeployEvent.progress(f"submitted Argo Workflow {result.run_id} in scanflow-tabular")]
    steps = ["gather", "preprocess", "modeling/linear", "modeling/forest", "evaluate"]
    assert result.states == dict.fromkeys(steps, NodeState.SUCCEEDED)
    done = [e.node for e in events if e.kind == "node" and e.state is NodeState.SUCCEEDED]
    assert done == steps
    assert events[0].kind == "run-started" and events[-1].kind == "run-finished"
    assert ("gather", "done gather") in logs
    pod_logs = k8s.logs("modeling/linear")
    (text,) = pod_logs.values()
    assert "--c 1.0 --max-iter 200" in text


def test_an_argo_run_retries_fails_and_skips_downstream(deploy: Callable[..., KubernetesApp], fake: FakeAPI) -> None:
    k8s = deploy(echo_nodes(b={"retries": 1, "retry_backoff": 0.0}))
    result = k8s.run(params={"b.fail": "true"}, check=False)
    assert result.status == "failed"
    assert result.states == {"a": NodeState.SUCCEEDED, "b": NodeState.FAILED, "c": NodeState.SKIPPED}
    assert len([p for p in kinds(fake, "pods") if "-step-b-" in p]) == 2  # two attempts
    with pytest.raises(Exception, match="Step 'b' failed in Argo Workflow"):
        result.raise_for_status()


def test_an_argo_run_can_be_cancelled(deploy: Callable[..., KubernetesApp], fake: FakeAPI) -> None:
    k8s = deploy()
    fake.release.clear()  # step a does not end by itself: only the cancel can end the workflow
    try:
        name = k8s.submit()
        fake.wait_until(lambda: running(fake, "a"), "step a's pod Running")
        assert k8s.cancel() == [f"Workflow {name}"]
        result = k8s.watch(name, timeout=60)
    finally:
        fake.release.set()
    assert result.status == "failed"
    assert result.states == {"a": NodeState.FAILED, "b": NodeState.SKIPPED, "c": NodeState.SKIPPED}
    workflow = fake.get(("workflows", NS, name))
    assert workflow is not None and workflow["spec"]["shutdown"] == "Terminate"
    (step_a,) = [n for n in workflow["status"]["nodes"].values() if n["name"] == f"{name}.a"]
    assert step_a["message"] == "terminated"  # stopped, not ended


def test_an_argo_failure_of_no_step_is_the_runs_own_error(deploy: Callable[..., KubernetesApp], fake: FakeAPI) -> None:
    """Argo ends a workflow in Error while no step failed (its controller lost the pods, say): the engine's result
    carries Argo's phase and message as the run's own error, first, and raises it."""
    k8s = deploy()
    fake.release.clear()
    try:
        name = k8s.submit()
        fake.wait_until(lambda: running(fake, "a"), "step a's pod Running")
        fake.update(("workflows", NS, name), lambda w: w["status"].update({"phase": "Error", "message": "pods lost"}))
        result = k8s.watch(name, timeout=60)
    finally:
        fake.release.set()
    assert result.status == "failed" and NodeState.FAILED not in result.states.values()
    assert list(result.errors) == [RUN_ERROR]
    with pytest.raises(ScanflowError, match=rf"Argo Workflow {name} \(namespace ml\) ended Error: pods lost\."):
        result.raise_for_status()


# -- Jobs through the scheduler --------------------------------------------------------------------------
def test_a_jobs_run_goes_through_the_scheduler(deploy: Callable[..., KubernetesApp], fake: FakeAPI) -> None:
    k8s = deploy(engine="jobs")
    lines: list[tuple[str, str]] = []
    result = k8s.run(tracking=False, on_log=lambda node, _s, line: lines.append((node, line)))
    assert result.ok
    assert result.states == dict.fromkeys("abc", NodeState.SUCCEEDED)
    jobs = kinds(fake, "jobs")
    assert len(jobs) == 3 and all(j.split("-")[-2] == "a1" for j in jobs)  # then the attempt's random tail
    job = fake.get(("jobs", NS, jobs[0]))
    assert job is not None and job["spec"]["backoffLimit"] == 0
    assert ("b", "done b") in lines
    folder = Path(result.state.folder) / ".scanflow" / "runs" / result.run_id
    assert "done c" in next(folder.rglob("stdout.txt")).parent.parent.joinpath("c", "stdout.txt").read_text()


def test_a_failing_job_is_retried_then_reported(deploy: Callable[..., KubernetesApp], fake: FakeAPI) -> None:
    k8s = deploy(echo_nodes(b={"retries": 1, "retry_backoff": 0.01}), engine="jobs")
    with pytest.raises(StepFailedError, match=r"(?s)Step 'b' exited with code 3.*something went wrong in the step"):
        k8s.run(tracking=False, params={"b.fail": True})
    assert [j.split("-")[-2] for j in kinds(fake, "jobs") if "-b-" in j] == ["a1", "a2"]  # then a random tail


def test_a_job_past_its_timeout_is_stopped(deploy: Callable[..., KubernetesApp]) -> None:
    k8s = deploy(echo_nodes(a={"timeout": 1}), engine="jobs")
    result = k8s.run(tracking=False, params={"a.sleep": 20}, check=False)
    assert result.states == {"a": NodeState.FAILED, "b": NodeState.SKIPPED, "c": NodeState.SKIPPED}
    assert "ran past its timeout of 1 s" in str(result.errors["a"])


def test_an_image_that_cannot_be_pulled_fails_at_once(deploy: Callable[..., KubernetesApp], fake: FakeAPI) -> None:
    """The step has no timeout: without the kubelet's reason for the waiting pod, the run would wait for ever."""
    k8s = deploy(engine="jobs", images={"a": "registry.example.org/missing:1", "b": "x:1", "c": "x:1"})
    result = k8s.run(tracking=False, check=False)
    assert result.states == {"a": NodeState.FAILED, "b": NodeState.SKIPPED, "c": NodeState.SKIPPED}
    error = str(result.errors["a"])
    assert "image could not be pulled (ImagePullBackOff" in error
    assert "image pull secrets" in error
    assert kinds(fake, "jobs") == []  # the stuck Job was deleted, not left pulling


def test_a_jobs_run_can_be_cancelled(deploy: Callable[..., KubernetesApp], fake: FakeAPI) -> None:
    k8s = deploy(engine="jobs")
    runs: list[Any] = []
    fake.release.clear()  # step a does not end by itself: only the cancel can end the run
    try:
        result = in_background(lambda: k8s.run(tracking=False, check=False, on_start=runs.append))
        fake.wait_until(lambda: running(fake, "a"), "step a's pod Running")
        runs[0].cancel()
        outcome = result()
    finally:
        fake.release.set()
    assert outcome.status == "cancelled"
    assert outcome.states["a"] is NodeState.CANCELLED
    assert kinds(fake, "jobs") == []  # the running Job was deleted, with its pod


def test_a_jobs_run_ends_right_when_its_watch_expires_mid_run(
    deploy: Callable[..., KubernetesApp], fake: FakeAPI
) -> None:
    """The server forgets the changes a Job's watch has not read yet (410 Gone, "too old resource version"):
    the backend lists the Job again and watches on from there, and the run ends as it would have."""
    k8s = deploy(engine="jobs")
    fake.release.clear()  # step a stays Running until the watch has expired
    try:
        result = in_background(lambda: k8s.run(tracking=False, check=False))
        fake.wait_until(lambda: running(fake, "a"), "step a's pod Running")
        # Forget every change so far: the backend's watch of step a's Job, open or the next one (it resumes
        # from the Job's last version, older than its pod's changes), is answered 410.
        fake.compact()
        fake.wait_until(lambda: fake.expired, "a watch answered 410 Gone")
    finally:
        fake.release.set()
    outcome = result()
    # Step a ended after its watch expired: only a backend that watched on saw it end.
    assert outcome.ok and outcome.states == dict.fromkeys("abc", NodeState.SUCCEEDED)
    folder = Path(outcome.state.folder) / ".scanflow" / "runs" / outcome.run_id
    assert "done a" in next(p for p in folder.rglob("stdout.txt") if p.parent.name == "a").read_text()


def test_a_job_deleted_while_its_watch_had_expired_fails_its_step(
    deploy: Callable[..., KubernetesApp], fake: FakeAPI
) -> None:
    """The Job goes while the server forgets its DELETED event (a 410 for the watch): listing again finds no
    Job, and the step fails saying so, instead of waiting for ever."""
    k8s = deploy(engine="jobs")
    fake.release.clear()
    try:
        result = in_background(lambda: k8s.run(tracking=False, check=False))
        fake.wait_until(lambda: running(fake, "a"), "step a's pod Running")
        with fake.cond:  # deleted and forgotten in one step: no watch can read the DELETED event
            fake.remove(job_of(fake, "a"))
            fake.compact()
        outcome = result()
    finally:
        fake.release.set()
    assert outcome.states == {"a": NodeState.FAILED, "b": NodeState.SKIPPED, "c": NodeState.SKIPPED}
    assert "the Job was deleted while it ran" in str(outcome.errors["a"])
    assert fake.expired


def test_a_watch_the_cluster_refuses_fails_the_step(fake: FakeAPI, make_app: Callable[..., Any]) -> None:
    """A Role that allows creating Jobs but not watching them: the step fails with the cluster's refusal,
    whatever the namespace is called (a "410" in it once made the backend take the refusal for an expired
    watch, and wait for ever)."""
    add_namespace(fake, "ml-410")
    k8s = KubernetesApp(make_app(echo_nodes()), namespace="ml-410", cluster=stand_in_cluster(fake), tag="t1",
                        engine="jobs")  # fmt: skip
    fake.forbidden_verbs.add("watch")
    outcome = in_background(lambda: k8s.run(tracking=False, check=False))()
    assert outcome.states == {"a": NodeState.FAILED, "b": NodeState.SKIPPED, "c": NodeState.SKIPPED}
    assert "refused to watch jobs.batch in namespace 'ml-410'" in str(outcome.errors["a"])
    assert not fake.expired


def test_a_jobs_run_is_tracked_as_a_tree_of_mlflow_runs(deploy: Callable[..., KubernetesApp], tmp_path: Path) -> None:
    k8s = deploy(engine="jobs")
    store = f"sqlite:///{tmp_path / 'tracker.db'}"
    lines: list[str] = []
    result = k8s.run(tracker_url=store, on_log=lambda _n, _s, line: lines.append(line))
    assert result.ok
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    children = {r.data.tags.get("mlflow.runName"): r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert len(children) == 3
    started = [line for line in lines if line.startswith("start a ")]
    # The step's pod got its own MLflow run id, created by the driver here.
    assert started and started[0].split("run_id=")[1].split()[0] in {r.info.run_id for r in children.values()}


def test_a_jobs_pod_gets_no_variable_of_this_machine(
    deploy: Callable[..., KubernetesApp], fake: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine prepares each step's environment from this machine's; only what the step needs may reach
    the Job (which anyone who may read Jobs in the namespace reads), never a credential."""
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "hunter2-password")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "hunter2-token")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://me:hunter2-uri@mlflow.example.org")
    monkeypatch.setenv("SCANFLOW_CA_BUNDLE", "/home/me/hunter2-ca.pem")
    k8s = deploy(engine="jobs")
    assert k8s.run(tracking=False).ok
    jobs = [fake.get(("jobs", NS, name)) for name in kinds(fake, "jobs")]
    assert len(jobs) == 3
    for job in jobs:
        assert job is not None
        env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["MLFLOW_TRACKING_URI"] == "http://demo-tracker:5000"
        assert env["SCANFLOW_RUN_ID"] and env["SCANFLOW_NODE"] in ("a", "b", "c")
        assert not {"MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "SCANFLOW_CA_BUNDLE"} & set(env)
    assert "hunter2" not in json.dumps(list(fake.objects.values()))


def stand_in_kubectl(folder: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``kubectl`` first on PATH running ``body`` (sh), after writing its arguments to ``folder/argv``."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {folder / "argv"}\n{body}\n')
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return folder / "argv"


def test_the_tracker_is_forwarded_through_the_same_cluster(
    deploy: Callable[..., KubernetesApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kubectl port-forward`` gets the kubeconfig and context the API calls use, and its output is read for as
    long as it runs: it writes a line per forwarded connection, and a full pipe would stop it (the stand-in
    kubectl writes 150 KB of them, then leaves a mark)."""
    busy = 'yes "Handling connection for 54321" | head -n 5000'
    argv = stand_in_kubectl(
        tmp_path,
        f'echo "Forwarding from 127.0.0.1:54321 -> 5000"\n{busy}\ntouch {tmp_path / "all-written"}\nexec sleep 60',
        monkeypatch,
    )
    k8s = deploy(kubeconfig=tmp_path / "kubeconfig", context="team")
    try:
        assert k8s.forward_tracker() == "http://127.0.0.1:54321"
        assert k8s.forward_tracker() == "http://127.0.0.1:54321"  # one forward, reused
        assert argv.read_text().split() == [
            "--kubeconfig", str(tmp_path / "kubeconfig"), "--context", "team",
            "-n", NS, "port-forward", "service/demo-tracker", ":5000",
        ]  # fmt: skip
        deadline = time.monotonic() + 20
        while not (tmp_path / "all-written").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "all-written").exists(), "kubectl blocked on its output"
        forward = k8s._forward
        assert forward is not None and forward.poll() is None
    finally:
        k8s.close()
    assert forward.poll() is not None and k8s.tracker_uri() == "http://demo-tracker:5000"


def test_a_port_forward_that_fails_says_why(
    deploy: Callable[..., KubernetesApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in_kubectl(tmp_path, """echo 'Error from server (NotFound): services "demo-tracker" not found'; exit 1""",
                     monkeypatch)  # fmt: skip
    k8s = deploy()
    with pytest.raises(BackendError, match=r'did not start \(Error from server \(NotFound\): services "demo-tracker" '
                       r"not found\).*scanflow deploy APP --to kubernetes"):  # fmt: skip
        k8s.forward_tracker(timeout=10)
