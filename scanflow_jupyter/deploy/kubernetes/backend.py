"""The Jobs backend: each attempt of each step is a Kubernetes Job, driven by the engine's shared scheduler
(for clusters without Argo Workflows; the same states, retries, caching, run state and MLflow run tree as a
local run).

The runner hands a backend-neutral :class:`~scanflow_jupyter.engine.backend.Task` (the launcher's arguments,
the step's own environment); the backend adds what a pod needs: the step's image, the launcher inside it, the
tracker's in-cluster address, the data volume and the spec. This machine's environment never reaches a Job. A
starter thread (:mod:`..attempt`) reads the step's MLflow run id from the runner's pipe and then creates the Job
with ``MLFLOW_RUN_ID``. Each attempt's Job has a name of its own and the labels of its application, run, step
and attempt: after a killed driver, :meth:`KubernetesBackend.recover` deletes the Jobs it left, by label.
The Job is watched until it completes or fails; the pod's output is followed into the run's log files (and
``on_log``) as it comes. A pod that cannot start (an image that cannot be pulled, a missing
secret) fails the attempt at once, with the kubelet's reason, instead of hanging.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...engine.backend import Outcome, Task, tail
from ...errors import BackendError, ScanflowError
from ...workflow import Application, Executor
from ..attempt import LOG_GRACE, Attempt, AttemptBackend, OnLog, attempt_id
from .client import Cluster
from .manifests import KubeOptions, step_env, step_job, tracker_url
from .names import object_name, selector

WATCH_WINDOW = 2.0  # seconds of each Job watch; the pod's waiting reasons are checked between windows
# A pod waiting for one of these reasons will not start by itself.
STUCK = {
    "ErrImagePull": "its image could not be pulled",
    "ImagePullBackOff": "its image could not be pulled",
    "InvalidImageName": "its image name is invalid",
    "CreateContainerConfigError": "its container could not be configured (a missing Secret or ConfigMap?)",
    "CreateContainerError": "its container could not be created",
}
JOB_TTL = 3600  # finished Jobs (and their pods' logs) stay an hour, then the cluster removes them
# What a step's pod takes of the engine's tracking: a tracked step's MLflow experiment and run exist in the
# tracker the backend was given, not in the in-cluster one it falls back to without.
TRACKING_ENV = ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")


@dataclass
class JobHandle(Attempt):
    created: bool = False
    pod: str | None = None
    exit_code: int | None = None
    finished: threading.Event = field(default_factory=threading.Event)  # the Job ended (or never will)


class KubernetesBackend(AttemptBackend):
    """Run nodes as Jobs on a cluster (see :class:`~.app.KubernetesApp`, which builds one).

    Parameters
    ----------
    cluster: the connection.
    app: the application (its name, its spec).
    options: namespace, images, secrets, volumes (see :class:`~.manifests.KubeOptions`).
    nodes: the executors by address.
    workflow: the workflow's name (a label on each Job).
    tracking_uri: ``(as seen from this machine, as seen from the cluster)``: the first is replaced by the
        second in each step's ``MLFLOW_TRACKING_URI``.
    on_log: called with each line a step writes.
    poll: seconds between checks of a pod that is not running yet.
    """

    name = "kubernetes"

    def __init__(
        self,
        cluster: Cluster,
        app: Application,
        options: KubeOptions,
        nodes: Mapping[str, Executor],
        workflow: str,
        tracking_uri: tuple[str, str] | None = None,
        on_log: OnLog | None = None,
        poll: float = 0.5,
    ) -> None:
        self.cluster = cluster
        self.app = app
        self.options = options
        self.nodes = dict(nodes)
        self.workflow = workflow
        self.tracking_uri = tracking_uri
        self.on_log = on_log
        self.poll = poll

    @property
    def namespace(self) -> str:
        return self.options.namespace

    # -- translating a task ------------------------------------------------------------------------
    def arguments(self, task: Task) -> list[str]:
        """The launcher's arguments (``script PATH --name value...``), as the task holds them."""
        return list(task.argv)

    def environment(self, task: Task, run_id: str | None) -> dict[str, str]:
        """The step's own environment (its node's ``env``, its run and node, with tracking its MLflow experiment
        and run) with the in-cluster tracker, on top of what every step's pod gets (:func:`.manifests.step_env`).

        Nothing of this machine: the task's ``tracking`` (this machine's store, perhaps with a password) is
        replaced by the tracker, and this machine's variables are never in a task: they would be written into
        the Job, where anyone who may read Jobs in the namespace reads it.
        """
        node = self.nodes[task.address]
        # What the engine set (the node's own env stays under step_env's fixed variables, as it is).
        extra = {key: value for key, value in task.env.items() if node.env.get(key) != value}
        if self.tracking_uri is None:  # no tracker of the engine's: no experiment or run of its either
            extra = {key: value for key, value in extra.items() if key not in TRACKING_ENV}
        extra["MLFLOW_TRACKING_URI"] = self.tracking_uri[1] if self.tracking_uri else tracker_url(self.app.name)
        if run_id:
            extra["MLFLOW_RUN_ID"] = run_id
        return step_env(self.app.name, task.address, node, extra)

    def job(self, task: Task, name: str, run_id: str | None, attempt: str = "") -> dict[str, Any]:
        """The Job of one attempt (``attempt``: its :func:`~..attempt.attempt_id`, a label)."""
        node = self.nodes[task.address]
        manifest = step_job(
            self.app,
            task.address,
            node,
            self.options,
            name=name,
            run_id=task.run_id,
            attempt=attempt or str(task.attempt),
            workflow=self.workflow,
            args=self.arguments(task),
            env=self.environment(task, run_id),
            timeout=task.timeout,
        )
        manifest["spec"]["ttlSecondsAfterFinished"] = JOB_TTL
        return manifest

    def job_name(self, task: Task, attempt: str) -> str:
        """``APP-NODE-113000-3f9a1c-a1-07c2``: the run id's random tail keeps names short and unique, the
        attempt's (``attempt``, its :func:`~..attempt.attempt_id`) keeps a resumed run's from the killed one's."""
        short = "-".join(task.run_id.split("-")[-2:]).lower()
        return object_name(self.app.name, task.address, short, f"a{attempt}", what="Job")

    def pod_selector(self, handle: JobHandle) -> str:
        """The pods of one attempt's Job."""
        task = handle.task
        return selector(self.app.name, "step", run=task.run_id, node=task.address, attempt=handle.attempt)

    def run_selector(self, run_id: str) -> str:
        """Every step Job (and pod) of run ``run_id``."""
        return selector(self.app.name, "step", run=run_id)

    def recover(self, run_id: str) -> list[str]:
        """Before a run resumes: delete every step Job of run ``run_id`` still there (found by label; a killed
        driver left them running), with their pods, so that a step never has two pods at once. Returns their
        names. They are stopped, not adopted (see :meth:`.DockerBackend.recover` for why)."""
        jobs = self.cluster.list_objects("Job", self.namespace, self.run_selector(run_id))
        names = sorted(str(job["metadata"]["name"]) for job in jobs)
        for name in names:
            with contextlib.suppress(ScanflowError):  # deleted meanwhile
                self.cluster.delete("Job", name, self.namespace)
        return names

    # -- the protocol ------------------------------------------------------------------------------
    def _check(self, task: Task) -> None:
        if task.address not in self.nodes:
            raise BackendError(f"Step {task.address!r} is not an executor of this deployment.")

    def _handle(self, task: Task) -> JobHandle:
        attempt = attempt_id(task)
        return JobHandle(task, self.job_name(task, attempt), attempt)

    def _start(self, handle: JobHandle, fd: int | None) -> None:
        try:
            run_id: str | None = None
            if fd is not None:
                run_id = self._read_run_id(fd)
                if not run_id:
                    handle.error = "the step's MLflow run could not be created; the step did not run"
                    return
            with handle.lock:
                if handle.cancelled:
                    return
            self.cluster.create(self.job(handle.task, handle.name, run_id, handle.attempt))
            with handle.lock:
                handle.created = True
                cancelled = handle.cancelled
            if cancelled:
                self.cluster.delete("Job", handle.name, self.namespace)
                return
            threading.Thread(target=self._follow, args=(handle,), daemon=True, name=f"k8s-logs-{handle.name}").start()
        except ScanflowError as exc:
            handle.error = str(exc)
        finally:
            if not handle.created:
                handle.logs_done.set()

    def _pod(self, handle: JobHandle) -> dict[str, Any] | None:
        pods = self.cluster.list_objects("Pod", self.namespace, self.pod_selector(handle))
        if not pods:
            return None
        pods.sort(key=lambda p: str(p.get("metadata", {}).get("creationTimestamp", "")))
        pod = pods[-1]
        handle.pod = str(pod["metadata"]["name"])
        return pod

    def _follow(self, handle: JobHandle) -> None:
        """Stream the pod's output into the run's log files as it comes."""
        task = handle.task
        lines = self.lines(task.address, "stdout")
        try:
            while True:
                last = handle.finished.is_set()  # one more look after the end: the pod may have been quick
                pod = self._pod(handle)
                if pod is not None and _phase(pod) in ("Running", "Succeeded", "Failed") and _started(pod):
                    break
                if last or handle.cancelled:
                    return
                handle.finished.wait(self.poll)
            assert handle.pod is not None
            with open(task.stdout, "ab") as out:
                for chunk in self.cluster.follow_logs(handle.pod, self.namespace):
                    out.write(chunk)
                    out.flush()
                    lines.feed(chunk)
        except Exception:  # the pod went away: what was read is in the file
            pass
        finally:
            with contextlib.suppress(Exception):
                lines.close()
            handle.logs_done.set()

    def wait(self, handle: JobHandle) -> Outcome:
        handle.ready.wait()
        task = handle.task
        if not handle.created or handle.error:
            if handle.cancelled:
                return Outcome(None, cancelled=True, duration=time.perf_counter() - handle.started)
            return Outcome(None, error=handle.error or "the Job was not created")
        deadline = None if task.timeout is None else handle.started + task.timeout + 30.0  # the Job's own first
        version: str | None = None
        outcome: Outcome | None = None
        while outcome is None:
            if handle.cancelled:
                break
            try:
                for kind, job in self.cluster.watch(
                    "Job",
                    self.namespace,
                    field=f"metadata.name={handle.name}",
                    timeout=WATCH_WINDOW,
                    resource_version=version,
                ):
                    version = str(job.get("metadata", {}).get("resourceVersion") or "") or version
                    if kind == "DELETED":
                        outcome = (
                            Outcome(None, cancelled=True)
                            if handle.cancelled
                            else Outcome(None, error="the Job was deleted while it ran")
                        )
                        break
                    outcome = self._finished(handle, job)
                    if outcome is not None:
                        break
            except ScanflowError as exc:  # an expired watch (410 Gone) is recovered in Cluster.watch: not this
                outcome = Outcome(None, error=str(exc))
            if outcome is None and not handle.cancelled:
                outcome = self._stuck(handle)
            if outcome is None and deadline is not None and time.perf_counter() > deadline:
                handle.timed_out = True
                outcome = Outcome(None, timed_out=True)
        if outcome is None or handle.cancelled:
            outcome = Outcome(None, cancelled=True)
        if outcome.timed_out or outcome.cancelled or outcome.error:
            with contextlib.suppress(ScanflowError):
                self.cluster.delete("Job", handle.name, self.namespace)
        handle.exit_code = outcome.exit_code
        handle.finished.set()
        if not handle.logs_done.wait(LOG_GRACE) or not os.path.exists(task.stdout):
            self._fetch_logs(handle)
        duration = time.perf_counter() - handle.started
        if outcome.timed_out or outcome.cancelled:
            return Outcome(None, timed_out=outcome.timed_out, cancelled=outcome.cancelled, duration=duration)
        if outcome.exit_code is None:
            return Outcome(None, error=outcome.error, duration=duration)
        error = "" if outcome.exit_code == 0 else tail(task.stdout)
        if error:  # the pod's one stream, kept as the step's stderr for the error message and MLflow
            task.stderr.write_text(error + "\n")
        return Outcome(outcome.exit_code, duration=duration, error=error)

    def _finished(self, handle: JobHandle, job: dict[str, Any]) -> Outcome | None:
        for cond in job.get("status", {}).get("conditions") or []:
            if cond.get("status") != "True":
                continue
            if cond.get("type") in ("Complete", "SuccessCriteriaMet"):
                return Outcome(0)
            if cond.get("type") in ("Failed", "FailureTarget"):
                if cond.get("reason") == "DeadlineExceeded":
                    handle.timed_out = True
                    return Outcome(None, timed_out=True)
                pod = self._pod(handle)
                code = _exit_code(pod) if pod is not None else None
                if code is None:
                    return Outcome(None, error=f"the Job failed: {cond.get('reason', '')} {cond.get('message', '')}")
                return Outcome(code)
        return None

    def _stuck(self, handle: JobHandle) -> Outcome | None:
        """An outcome for a pod that will not start by itself, else None."""
        try:
            pod = self._pod(handle)
        except ScanflowError:
            return None
        if pod is None:
            return self._gone(handle)
        for status in pod.get("status", {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason", "")
            if reason in STUCK:
                image = status.get("image", "")
                hint = (
                    " Check that the image was pushed to the registry the cluster pulls from, and the image "
                    "pull secrets."
                    if "image" in STUCK[reason]
                    else ""
                )
                return Outcome(
                    None,
                    error=f"pod {handle.pod} did not start: {STUCK[reason]} ({reason}: "
                    f"{waiting.get('message', '').strip() or image}).{hint}",
                )
        return None

    def _gone(self, handle: JobHandle) -> Outcome | None:
        """An error when the Job is not there any more, else None. Its deletion is normally a ``DELETED``
        event; but when the server forgot the changes a watch had not read yet (410 Gone), the watch lists
        the Jobs again, and a deleted one is just absent: without this look, the step would wait for ever."""
        try:
            job = self.cluster.get("Job", handle.name, self.namespace)
        except ScanflowError:
            return None
        if job is not None or handle.cancelled:
            return None
        return Outcome(None, error="the Job was deleted while it ran")

    def _fetch_logs(self, handle: JobHandle) -> None:
        if handle.pod is None:
            with contextlib.suppress(ScanflowError):
                self._pod(handle)
        if handle.pod is None:
            return
        with contextlib.suppress(ScanflowError):
            text = self.cluster.logs(handle.pod, self.namespace)
            handle.task.stdout.write_text(text)
            if self.on_log is not None:
                for line in text.splitlines():
                    self.on_log(handle.task.address, "stdout", line)

    def status(self, handle: JobHandle) -> str:
        if not handle.ready.is_set():
            return "running"
        if not handle.created or handle.exit_code is not None:
            return "exited"
        with contextlib.suppress(ScanflowError):
            job = self.cluster.get("Job", handle.name, self.namespace)
            if job is not None and self._finished(handle, job) is None:
                return "running"
        return "exited"

    def _stop(self, handle: JobHandle) -> None:
        with handle.lock:
            created = handle.created
        if created:
            with contextlib.suppress(ScanflowError):
                self.cluster.delete("Job", handle.name, self.namespace)


def _phase(pod: dict[str, Any]) -> str:
    return str(pod.get("status", {}).get("phase", ""))


def _started(pod: dict[str, Any]) -> bool:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        if "running" in state or "terminated" in state:
            return True
    return False


def _exit_code(pod: dict[str, Any]) -> int | None:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated")
        if terminated is not None:
            return int(terminated.get("exitCode", 1))
    return None
