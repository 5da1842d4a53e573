"""The Jobs backend: each attempt of each step is a Kubernetes Job, driven by the engine's shared scheduler
(for clusters without Argo Workflows; the same states, retries, caching, run state and MLflow run tree as a
local run).

The runner hands a :class:`~scanflow_jupyter.engine.backend.Task` resolved for this machine; the backend
translates it for a pod: the step's image, the launcher inside it, the node's own environment (never this
machine's), the tracker's in-cluster address, the data volume and the spec. A starter thread reads the
step's MLflow run id from the runner's pipe and then creates the Job with ``MLFLOW_RUN_ID``, as the Docker
backend does. The Job is watched until it completes or fails; the pod's output is followed into the run's
log files (and ``on_log``) as it comes. A pod that cannot start (an image that cannot be pulled, a missing
secret) fails the attempt at once, with the kubelet's reason, instead of hanging.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...engine.backend import Outcome, Task, tail
from ...engine.launch import LAUNCHER
from ...errors import BackendError, ScanflowError
from ...workflow import Application, Executor
from .client import Cluster
from .manifests import KubeOptions, step_env, step_job, tracker_url
from .names import object_name, selector

OnLog = Callable[[str, str, str], None]  # (address, stream, line)
LOG_GRACE = 10.0  # seconds the log stream may take to end after the pod ended
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
# What a step's pod takes from the environment the engine prepared (see KubernetesBackend.environment).
ENGINE_ENV = ("SCANFLOW_RUN_ID", "SCANFLOW_NODE")
TRACKING_ENV = ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")


@dataclass
class JobHandle:
    task: Task
    name: str
    started: float = field(default_factory=time.perf_counter)
    created: bool = False
    pod: str | None = None
    error: str = ""
    timed_out: bool = False
    cancelled: bool = False
    exit_code: int | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)  # the Job ended (or never will)
    logs_done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class KubernetesBackend:
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
        """The launcher's arguments (``script PATH --name value...``): the task's argv without the
        interpreter and the launcher's path on this machine."""
        argv = list(task.argv)
        return argv[2:] if len(argv) > 1 and argv[1] == LAUNCHER else argv[1:]

    def environment(self, task: Task, run_id: str | None) -> dict[str, str]:
        """What the engine sets for a step (its run and node, and with tracking its MLflow experiment and
        run), with the in-cluster tracker, on top of the node's own ``env``.

        Only these names are taken from the task: its environment is this machine's, and anything else in it
        (``MLFLOW_TRACKING_PASSWORD``, ``MLFLOW_TRACKING_TOKEN``, a tracker URI with credentials...) would be
        written into the Job, where anyone who may read Jobs in the namespace reads it.
        """
        node = self.nodes[task.address]
        names = ENGINE_ENV + (TRACKING_ENV if self.tracking_uri is not None else ())
        extra = {key: task.env[key] for key in names if key in task.env}
        extra["MLFLOW_TRACKING_URI"] = self.tracking_uri[1] if self.tracking_uri else tracker_url(self.app.name)
        if run_id:
            extra["MLFLOW_RUN_ID"] = run_id
        return step_env(self.app.name, task.address, node, extra)

    def job(self, task: Task, name: str, run_id: str | None) -> dict[str, Any]:
        """The Job of one attempt."""
        node = self.nodes[task.address]
        manifest = step_job(
            self.app,
            task.address,
            node,
            self.options,
            name=name,
            run_id=task.run_id,
            attempt=task.attempt,
            workflow=self.workflow,
            args=self.arguments(task),
            env=self.environment(task, run_id),
            timeout=task.timeout,
        )
        manifest["spec"]["ttlSecondsAfterFinished"] = JOB_TTL
        return manifest

    def job_name(self, task: Task) -> str:
        # The run id's random tail keeps names short and unique: 20261123-113000-3f9a1c -> 113000-3f9a1c.
        short = "-".join(task.run_id.split("-")[-2:]).lower()
        return object_name(self.app.name, task.address, short, f"a{task.attempt}", what="Job")

    def pod_selector(self, task: Task) -> str:
        return selector(self.app.name, "step", run=task.run_id, node=task.address, attempt=str(task.attempt))

    # -- the protocol ------------------------------------------------------------------------------
    def submit(self, task: Task) -> JobHandle:
        if task.address not in self.nodes:
            raise BackendError(f"Step {task.address!r} is not an executor of this deployment.")
        task.stdout.parent.mkdir(parents=True, exist_ok=True)
        handle = JobHandle(task, self.job_name(task))
        fd_text = task.env.get("SCANFLOW_RUN_ID_FD")
        # The runner closes its end of the pipe when submit returns: keep our own copy for the starter.
        fd = os.dup(int(fd_text)) if fd_text is not None else None
        threading.Thread(target=self._start, args=(handle, fd), name=f"k8s-{handle.name}", daemon=True).start()
        return handle

    def _start(self, handle: JobHandle, fd: int | None) -> None:
        try:
            run_id: str | None = None
            if fd is not None:
                with os.fdopen(fd, "rb") as pipe:
                    run_id = pipe.read().decode().strip()
                if not run_id:
                    handle.error = "the step's MLflow run could not be created; the step did not run"
                    return
            with handle.lock:
                if handle.cancelled:
                    return
            self.cluster.create(self.job(handle.task, handle.name, run_id))
            with handle.lock:
                handle.created = True
                cancelled = handle.cancelled
            if cancelled:
                self.cluster.delete("Job", handle.name, self.namespace)
                return
            threading.Thread(target=self._follow, args=(handle,), daemon=True, name=f"k8s-logs-{handle.name}").start()
        except ScanflowError as exc:
            handle.error = str(exc)
        except Exception as exc:  # reported as the step's error by wait()
            handle.error = f"{type(exc).__name__}: {exc}"
        finally:
            if not handle.created:
                handle.logs_done.set()
            handle.ready.set()

    def _pod(self, handle: JobHandle) -> dict[str, Any] | None:
        pods = self.cluster.list_objects("Pod", self.namespace, self.pod_selector(handle.task))
        if not pods:
            return None
        pods.sort(key=lambda p: str(p.get("metadata", {}).get("creationTimestamp", "")))
        pod = pods[-1]
        handle.pod = str(pod["metadata"]["name"])
        return pod

    def _follow(self, handle: JobHandle) -> None:
        """Stream the pod's output into the run's log files as it comes."""
        task = handle.task
        partial = b""
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
                    if self.on_log is not None:
                        lines = (partial + chunk).split(b"\n")
                        partial = lines.pop()
                        for line in lines:
                            self.on_log(task.address, "stdout", line.decode("utf-8", "replace").rstrip("\r"))
        except Exception:  # the pod went away: what was read is in the file
            pass
        finally:
            if partial and self.on_log is not None:
                with contextlib.suppress(Exception):
                    self.on_log(task.address, "stdout", partial.decode("utf-8", "replace"))
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

    def logs(self, handle: JobHandle) -> tuple[str, str]:
        return tail(handle.task.stdout, 10_000), tail(handle.task.stderr, 10_000)

    def cancel(self, handle: JobHandle) -> None:
        with handle.lock:
            handle.cancelled = handle.cancelled or not handle.timed_out
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
