"""The Kubernetes objects of an application, as plain dicts in the API's own shape (camelCase, ``apiVersion``
first): what ``scanflow export --to kubernetes`` writes and what :class:`~.app.KubernetesApp` applies.

- a namespace (per application, unless one is given) that enforces the ``restricted`` Pod Security Standard;
- two ServiceAccounts: ``APP-workload`` for the tracker, the services, the agents and the steps run as Jobs
  (no token: nothing in them talks to the Kubernetes API), and ``APP-runner`` for the pods of Argo Workflows
  only, with a Role holding only what Argo's executor needs (never a ClusterRole, never cluster-admin) and its
  RoleBinding (see :func:`rbac` for why the workflow's pods keep a token);
- NetworkPolicies (:func:`network_policies`): everything denied, then DNS, the tracker's port from and to the
  application's pods, the API server for Argo's executor, and each Service node's port;
- two PersistentVolumeClaims: the tracker's (its SQLite store and artifacts) and the steps' shared data
  folders (``work`` by default);
- a ConfigMap holding ``scanflow.yaml``, mounted read-only into every step;
- the MLflow tracker as a Deployment and a Service;
- each online Service node as a Deployment and a Service, with an optional HorizontalPodAutoscaler;
- a Job per step attempt (:func:`step_job`, made at run time by the Jobs backend).

Every pod runs as the images' non-root user (uid 10001), with no privilege escalation, no capabilities,
the runtime's default seccomp profile and a read-only root filesystem: what a container writes goes to its
volumes (the data folders, the tracker's store) or to two ``emptyDir`` volumes, ``/tmp`` and ``HOME``
(``/home/scanflow``: caches, libraries' settings), which live as long as the pod. Its requests and limits come
from the node's ``resources``. Secrets are only ever referenced by name (image pull secrets, ``envFrom``),
never written here.

Example
-------
>>> objects = manifests(app, KubeOptions.for_app(app, images={...}))   # doctest: +SKIP
>>> [o["kind"] for o in objects][:3]                                   # doctest: +SKIP
['Namespace', 'ServiceAccount', 'Role']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...engine.params_resolve import step_command
from ...errors import BackendError, Problem, WorkflowValidationError
from ...workflow import Application, Executor, Resources, Service, Workflow
from ...workflow.quantity import canonical_cpu, canonical_memory
from ..container import APP_DIR, INLINE_LAUNCHER, LAUNCHER_PATH, UID, USER, service_command
from ..tracker import TRACKER_PORT, server_command
from .names import MANAGED_BY, MANAGER, NAME, PART_OF, app_labels, check_label, check_service_name, object_name

Manifest = dict[str, Any]

SPEC_DIR = "/etc/scanflow"
GPU_RESOURCE = "nvidia.com/gpu"
# Argo Workflows >= 3.4: what the executor in each workflow pod writes (its outputs and exit code).
ARGO_EXECUTOR_RULE = {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}
# The label Argo's controller puts on every pod of a workflow (its name): what the executor's egress rule selects.
ARGO_WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
# The writable places of a container whose root filesystem is read-only (emptyDir volumes, one per pod).
TMP_DIR = "/tmp"
HOME_DIR = f"/home/{USER}"
SCRATCH = {"tmp": TMP_DIR, "home": HOME_DIR}
# Where the API server listens as pods reach it: 443 (managed clusters), 6443 (kubeadm, kind, k3s). A NetworkPolicy
# sees the address after the Service's translation, so it allows the endpoint's port, not the Service's.
API_SERVER_PORTS = (443, 6443)
DNS_PORT = 53


@dataclass(frozen=True)
class KubeOptions:
    """Where and how an application runs on a cluster.

    Parameters
    ----------
    namespace: the namespace; default ``scanflow-APP``, created (and removed) with the application. A given
        namespace is used as it is and never deleted.
    images: ``{node address or 'tracker': image}``; see :func:`.images.image_names`.
    image_pull_secrets: names of ``kubernetes.io/dockerconfigjson`` Secrets in the namespace, for a private
        registry (only referenced; create them with ``kubectl create secret docker-registry``).
    env_secrets: names of Secrets whose keys become environment variables of every step and service
        (``envFrom``; only referenced).
    storage_class: the PVCs' storage class (default: the cluster's default class).
    tracker_storage, data_storage: the sizes of the tracker's and the steps' volumes.
    data_access_mode: ``ReadWriteOnce`` (one node; enough on kind, k3s or a single-node cluster) or
        ``ReadWriteMany`` where steps may land on several nodes (needs a class that supports it: NFS, CephFS...).
    data_dirs: application folders the steps share (mounted from the data volume).
    default_resources: requests and limits of a node that declares no ``resources``.
    autoscale: ``{service address: max replicas}``: a HorizontalPodAutoscaler between the service's
        ``replicas`` and this maximum, at ``target_cpu`` percent of its CPU request.
    pull_policy: ``IfNotPresent`` (tags are content-addressed: a tag never changes what it names).
    """

    namespace: str
    images: Mapping[str, str]
    managed_namespace: bool = True
    image_pull_secrets: tuple[str, ...] = ()
    env_secrets: tuple[str, ...] = ()
    storage_class: str | None = None
    tracker_storage: str = "2Gi"
    data_storage: str = "5Gi"
    data_access_mode: str = "ReadWriteOnce"
    data_dirs: tuple[str, ...] = ("work",)
    default_resources: Resources = field(default_factory=lambda: Resources(cpu="250m", memory="512Mi"))
    autoscale: Mapping[str, int] = field(default_factory=dict)
    target_cpu: int = 70
    pull_policy: str = "IfNotPresent"

    @classmethod
    def for_app(
        cls, app: Application, images: Mapping[str, str], namespace: str | None = None, **kw: Any
    ) -> KubeOptions:
        """Options for ``app``: its own namespace ``scanflow-APP`` unless ``namespace`` is given."""
        if namespace is None:
            name = check_label(
                f"scanflow-{app.name}", "Namespace", "Shorten the application name, or pass a namespace."
            )
            return cls(namespace=name, images=images, managed_namespace=True, **kw)
        return cls(namespace=check_label(namespace, "Namespace"), images=images, managed_namespace=False, **kw)


# -- names -----------------------------------------------------------------------------------------
def runner_name(app: str) -> str:
    """The ServiceAccount of Argo Workflows' pods (its executor reports step results through the API)."""
    return object_name(app, "runner", what="ServiceAccount")


def workload_name(app: str) -> str:
    """The ServiceAccount of every other pod: no Role, no token."""
    return object_name(app, "workload", what="ServiceAccount")


def tracker_name(app: str) -> str:
    return check_service_name(object_name(app, "tracker", what="Service"), "Service")


def tracker_url(app: str) -> str:
    """The tracker as the application's pods reach it (the Service's name resolves in its namespace)."""
    return f"http://{tracker_name(app)}:{TRACKER_PORT}"


def service_name(app: str, address: str) -> str:
    return check_service_name(object_name(app, address, what="Service"), "Service")


def data_claim(app: str) -> str:
    return object_name(app, "data", what="PersistentVolumeClaim")


def tracker_claim(app: str) -> str:
    return object_name(app, "tracker-store", what="PersistentVolumeClaim")


def spec_config(app: str) -> str:
    return object_name(app, "spec", what="ConfigMap")


# -- pieces ----------------------------------------------------------------------------------------
def _meta(name: str, namespace: str | None, labels: Mapping[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(labels)
    return meta


def pod_security() -> dict[str, Any]:
    """Pod-level security: the images' non-root user, files group-owned by it, the default seccomp profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    """Container-level security (the ``restricted`` Pod Security Standard)."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }


def scratch_volumes() -> list[dict[str, Any]]:
    """The pod's ``emptyDir`` volumes for :data:`SCRATCH` (what a read-only root filesystem leaves writable)."""
    return [{"name": name, "emptyDir": {}} for name in SCRATCH]


def scratch_mounts() -> list[dict[str, Any]]:
    return [{"name": name, "mountPath": path} for name, path in SCRATCH.items()]


def resources(address: str, res: Resources | None, default: Resources) -> dict[str, Any]:
    """Requests and limits from a node's resources (requests equal limits: what is asked for is reserved,
    and a step cannot starve its neighbours). Raises ``WorkflowValidationError`` for a value that is not a
    quantity (validation reports it first; this guards objects built in code)."""
    chosen = res if res is not None and (res.cpu is not None or res.memory is not None) else default
    out: dict[str, str] = {}
    problems: list[Problem] = []
    for what in ("cpu", "memory"):
        value = getattr(chosen, what)
        if value is None:
            continue
        try:
            out[what] = canonical_cpu(value) if what == "cpu" else canonical_memory(value)
        except ValueError as exc:
            problems.append(Problem(f"{address}.resources.{what}", f"{exc}; Kubernetes needs a quantity"))
    if problems:
        raise WorkflowValidationError(problems, subject=f"the resources of {address!r}")
    limits: dict[str, Any] = dict(out)
    gpu = res.gpu if res is not None else 0
    if gpu:
        limits[GPU_RESOURCE] = str(gpu)
    spec: dict[str, Any] = {}
    if out:
        spec["requests"] = dict(out)
    if limits:
        spec["limits"] = limits
    return spec


def _env(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": str(v)} for k, v in values.items()]


def _env_from(options: KubeOptions) -> list[dict[str, Any]]:
    return [{"secretRef": {"name": name}} for name in options.env_secrets]


def _pull_secrets(options: KubeOptions) -> list[dict[str, str]]:
    return [{"name": name} for name in options.image_pull_secrets]


def step_volumes(app: str) -> list[dict[str, Any]]:
    return [
        {"name": "data", "persistentVolumeClaim": {"claimName": data_claim(app)}},
        {"name": "spec", "configMap": {"name": spec_config(app)}},
        *scratch_volumes(),
    ]


def step_mounts(options: KubeOptions) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [
        {"name": "data", "mountPath": f"{APP_DIR}/{d.strip('/')}", "subPath": d.strip("/").replace("/", "-")}
        for d in options.data_dirs
    ]
    mounts.append({"name": "spec", "mountPath": SPEC_DIR, "readOnly": True})
    return [*mounts, *scratch_mounts()]


def image_of(options: KubeOptions, address: str) -> str:
    try:
        return options.images[address]
    except KeyError:
        raise BackendError(
            f"No image for {address!r}. Build and push the application's images first "
            "('scanflow deploy --to kubernetes --registry REGISTRY' does both), or pass images / a tag."
        ) from None


def step_argv(node: Executor, args: list[str]) -> list[str]:
    """The container's argv: the launcher baked into generated images, or (an executor's own Dockerfile,
    which has no launcher) the launcher's source handed to ``python3 -c``."""
    if node.dockerfile:
        from ...engine.launch import LAUNCHER

        with open(LAUNCHER) as fh:
            return ["python3", "-c", INLINE_LAUNCHER, fh.read(), *args]
    return ["python", LAUNCHER_PATH, *args]


def step_env(app: str, address: str, node: Executor, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(node.env)
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "SCANFLOW_NODE": address,
            "SCANFLOW_SPEC": f"{SPEC_DIR}/scanflow.yaml",
            "MLFLOW_TRACKING_URI": tracker_url(app),
            # An executor's own image may have no home for uid 10001 (HOME would be '/', read-only).
            "HOME": HOME_DIR,
        }
    )
    if node.function is not None:
        env["PYTHONPATH"] = APP_DIR
    env.update(extra or {})
    return env


def step_container(
    app: str,
    address: str,
    node: Executor,
    options: KubeOptions,
    args: list[str],
    env: Mapping[str, str],
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": image_of(options, address),
        "imagePullPolicy": options.pull_policy,
        "command": step_argv(node, args),
        "workingDir": APP_DIR,
        "env": _env(env),
    }
    if options.env_secrets:
        container["envFrom"] = _env_from(options)
    container["resources"] = resources(address, node.resources, options.default_resources)
    container["securityContext"] = container_security()
    container["volumeMounts"] = step_mounts(options)
    return container


# -- the objects -----------------------------------------------------------------------------------
def namespace(app: Application, options: KubeOptions) -> Manifest:
    labels = app_labels(app.name, "namespace")
    # Pods that break the restricted profile are refused at admission, not found out later.
    labels.update(
        {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}
    )
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(options.namespace, None, labels)}


def rbac(app: Application, options: KubeOptions) -> list[Manifest]:
    """The application's two ServiceAccounts, the Role of Argo's executor (it may write its task results;
    nothing else, in this namespace only) and the RoleBinding giving it to ``APP-runner``.

    ``APP-workload`` (tracker, services, agents, Jobs) has ``automountServiceAccountToken: false`` and no Role:
    no pod of it gets a token, even one added later that forgets to say so in its own spec.

    ``APP-runner`` is for the pods of Argo Workflows only, and keeps its token: Argo's ``wait`` container
    reports each step's result through the API (``workflowtaskresults``), with the pod's token. Argo can
    instead mount a token in its own containers only (``automountServiceAccountToken: false`` with
    ``executor.serviceAccountName`` in the Workflow), but then reads it from a long-lived
    ``kubernetes.io/service-account-token`` Secret named ``SA.service-account-token`` that someone must create
    (Argo does not use the projected, expiring token then); and Argo only ever writes ``false`` into the pod
    spec, so a ServiceAccount with ``automountServiceAccountToken: false`` cannot be turned back on from the
    Workflow. So the workflow's pods keep the kubelet's bound, expiring token, whose only right is the Role's
    ``create``/``patch`` of task results in this namespace, and no other pod shares their ServiceAccount.
    """
    name = runner_name(app.name)
    labels = app_labels(app.name, "rbac")
    account: Manifest = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(name, options.namespace, labels),
    }
    workload: Manifest = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(workload_name(app.name), options.namespace, labels),
        "automountServiceAccountToken": False,
    }
    if options.image_pull_secrets:
        account["imagePullSecrets"] = _pull_secrets(options)
        workload["imagePullSecrets"] = _pull_secrets(options)
    role: Manifest = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(name, options.namespace, labels),
        "rules": [dict(ARGO_EXECUTOR_RULE)],
    }
    binding: Manifest = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(name, options.namespace, labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": options.namespace}],
    }
    return [account, workload, role, binding]


# -- network policies ------------------------------------------------------------------------------
def app_pods(app: str) -> dict[str, Any]:
    """A pod selector of every pod of ``app`` (Deployments, Jobs and Argo's pods all carry these labels)."""
    return {"matchLabels": {MANAGED_BY: MANAGER, PART_OF: app}}


def _named_pods(app: str, name: str) -> dict[str, Any]:
    """The pods of the Deployment ``name`` of ``app`` (as its Service selects them)."""
    return {"matchLabels": {MANAGED_BY: MANAGER, PART_OF: app, NAME: name}}


def _policy(app: Application, options: KubeOptions, name: str, spec: dict[str, Any], **extra: str) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, options.namespace, app_labels(app.name, "network", **extra)),
        "spec": spec,
    }


def _tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def network_policies(app: Application, options: KubeOptions) -> list[Manifest]:
    """The application's NetworkPolicies (they add up: a connection passes when one of them allows it):

    - ``APP-default-deny``: no ingress, no egress, for every pod of the namespace scanflow creates (in a given
      namespace, for the application's pods only: the others are not scanflow's to cut off);
    - ``APP-egress``: the application's pods may resolve names (kube-dns, UDP and TCP 53) and reach the
      tracker's port;
    - ``APP-tracker``: the tracker receives on its port from the application's pods only;
    - ``APP-argo-executor``: the pods of Argo Workflows reach the API server (Argo's ``wait`` container
      reports step results); its address is the cluster's, so only the ports are fixed.

    Each Service node gets its own policy from :func:`online_service`. Traffic from the pod's own node
    (the kubelet's probes, ``kubectl port-forward``) is not subject to these policies.
    """
    pods = app_pods(app.name)
    tracker = tracker_name(app.name)
    deny = {"podSelector": {} if options.managed_namespace else pods, "policyTypes": ["Ingress", "Egress"]}
    dns = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": DNS_PORT}, _tcp(DNS_PORT)],
    }
    to_tracker = {"to": [{"podSelector": _named_pods(app.name, tracker)}], "ports": [_tcp(TRACKER_PORT)]}
    executor_pods = {**pods, "matchExpressions": [{"key": ARGO_WORKFLOW_LABEL, "operator": "Exists"}]}
    return [
        _policy(app, options, object_name(app.name, "default-deny", what="NetworkPolicy"), deny),
        _policy(
            app,
            options,
            object_name(app.name, "egress", what="NetworkPolicy"),
            {"podSelector": pods, "policyTypes": ["Egress"], "egress": [dns, to_tracker]},
        ),
        _policy(
            app,
            options,
            tracker,
            {
                "podSelector": _named_pods(app.name, tracker),
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": pods}], "ports": [_tcp(TRACKER_PORT)]}],
            },
        ),
        _policy(
            app,
            options,
            object_name(app.name, "argo-executor", what="NetworkPolicy"),
            {
                "podSelector": executor_pods,
                "policyTypes": ["Egress"],
                "egress": [{"ports": [_tcp(port) for port in API_SERVER_PORTS]}],
            },
        ),
    ]


def service_policy(app: Application, address: str, node: Service, options: KubeOptions) -> Manifest:
    """A Service node's pods receive on its port, from anywhere (who calls a model is the cluster's choice)."""
    name = service_name(app.name, address)
    spec = {
        "podSelector": _named_pods(app.name, name),
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [_tcp(node.port)]}],
    }
    return _policy(app, options, name, spec, node=address)


def claims(app: Application, options: KubeOptions) -> list[Manifest]:
    out = []
    for name, size, mode in (
        (tracker_claim(app.name), options.tracker_storage, "ReadWriteOnce"),
        (data_claim(app.name), options.data_storage, options.data_access_mode),
    ):
        spec: dict[str, Any] = {"accessModes": [mode], "resources": {"requests": {"storage": canonical_memory(size)}}}
        if options.storage_class:
            spec["storageClassName"] = options.storage_class
        out.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": _meta(name, options.namespace, app_labels(app.name, "storage")),
                "spec": spec,
            }
        )
    return out


def spec_map(app: Application, options: KubeOptions) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(spec_config(app.name), options.namespace, app_labels(app.name, "config")),
        "data": {"scanflow.yaml": app.to_yaml()},
    }


def tracker_command(app: str, namespace: str) -> list[str]:
    """The MLflow server: SQLite and artifacts on its volume, artifacts served through it, and the host names
    it answers to (its Service, short and qualified, and localhost for ``kubectl port-forward``)."""
    svc = tracker_name(app)
    hosts = [svc, f"{svc}.{namespace}", f"{svc}.{namespace}.svc", f"{svc}.{namespace}.svc.cluster.local"]
    allowed = [h for host in [*hosts, "localhost", "127.0.0.1"] for h in (host, f"{host}:*")]
    return server_command(allowed)


def _pod_spec(options: KubeOptions, containers: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,  # nothing in these pods talks to the Kubernetes API
        "securityContext": pod_security(),
        "containers": containers,
    }
    if options.image_pull_secrets:
        spec["imagePullSecrets"] = _pull_secrets(options)
    if volumes:
        spec["volumes"] = volumes
    return spec


def _deployment(
    app: Application,
    options: KubeOptions,
    name: str,
    component: str,
    replicas: int,
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    recreate: bool = False,
    **extra: str,
) -> Manifest:
    labels = app_labels(app.name, component, **extra)
    select = {k: v for k, v in labels.items() if k != "app.kubernetes.io/component"}
    select["app.kubernetes.io/name"] = name
    labels["app.kubernetes.io/name"] = name
    pod = _pod_spec(options, [container], volumes)
    pod["serviceAccountName"] = workload_name(app.name)
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": select}}
    if recreate:  # one writer of the SQLite store and its ReadWriteOnce volume at a time
        spec["strategy"] = {"type": "Recreate"}
    spec["template"] = {"metadata": {"labels": labels}, "spec": pod}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, options.namespace, labels),
        "spec": spec,
    }


def _service(app: Application, options: KubeOptions, name: str, component: str, port: int, **extra: str) -> Manifest:
    labels = app_labels(app.name, component, **extra)
    labels["app.kubernetes.io/name"] = name
    select = {k: v for k, v in labels.items() if k != "app.kubernetes.io/component"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, options.namespace, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": select,
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _probe(path: str, initial: int, host: str | None = None) -> dict[str, Any]:
    get: dict[str, Any] = {"path": path, "port": "http"}
    if host is not None:
        get["httpHeaders"] = [{"name": "Host", "value": host}]
    return {"httpGet": get, "initialDelaySeconds": initial, "periodSeconds": 5}


def tracker(app: Application, options: KubeOptions) -> list[Manifest]:
    """The MLflow tracker: one replica (SQLite) on its volume, and its Service."""
    name = tracker_name(app.name)
    container: dict[str, Any] = {
        "name": "tracker",
        "image": image_of(options, "tracker"),
        "imagePullPolicy": options.pull_policy,
        "command": tracker_command(app.name, options.namespace),
        "env": _env({"HOME": HOME_DIR}),
        "ports": [{"name": "http", "containerPort": TRACKER_PORT, "protocol": "TCP"}],
        # The kubelet probes with the pod's IP as Host, which MLflow's host check refuses: say localhost.
        "readinessProbe": _probe("/health", 5, host="localhost"),
        "resources": resources("tracker", None, options.default_resources),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "store", "mountPath": "/mlflow/db", "subPath": "db"},
            {"name": "store", "mountPath": "/mlflow/artifacts", "subPath": "artifacts"},
            *scratch_mounts(),
        ],
    }
    volumes = [
        {"name": "store", "persistentVolumeClaim": {"claimName": tracker_claim(app.name)}},
        *scratch_volumes(),
    ]
    return [
        _deployment(app, options, name, "tracker", 1, container, volumes, recreate=True),
        _service(app, options, name, "tracker", TRACKER_PORT),
    ]


def online_service(app: Application, address: str, node: Service, options: KubeOptions) -> list[Manifest]:
    """A Service node: its model served by ``mlflow models serve`` (replicas, readiness on ``/ping``), a
    Service in front, the NetworkPolicy that lets it receive on its port, and a HorizontalPodAutoscaler when
    ``options.autoscale`` names it."""
    name = service_name(app.name, address)
    env = {**node.env, "MLFLOW_TRACKING_URI": tracker_url(app.name), "PYTHONUNBUFFERED": "1", "HOME": HOME_DIR}
    container: dict[str, Any] = {
        "name": "model",
        "image": image_of(options, address),
        "imagePullPolicy": options.pull_policy,
        "command": service_command(node),
        "env": _env(env),
    }
    if options.env_secrets:
        container["envFrom"] = _env_from(options)
    container.update(
        {
            "ports": [{"name": "http", "containerPort": node.port, "protocol": "TCP"}],
            "readinessProbe": _probe("/ping", 10),
            "resources": resources(address, node.resources, options.default_resources),
            "securityContext": container_security(),
            # The model is downloaded under /tmp when the server starts.
            "volumeMounts": scratch_mounts(),
        }
    )
    out = [
        _deployment(app, options, name, "service", node.replicas, container, scratch_volumes(), node=address),
        _service(app, options, name, "service", node.port, node=address),
        service_policy(app, address, node, options),
    ]
    maximum = options.autoscale.get(address)
    if maximum is not None:
        if maximum < node.replicas:
            raise BackendError(
                f"Autoscaling of service {address!r}: the maximum ({maximum}) is below its replicas "
                f"({node.replicas}); raise the maximum or lower 'replicas' in scanflow.yaml."
            )
        out.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": _meta(name, options.namespace, app_labels(app.name, "service", node=address)),
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": node.replicas,
                    "maxReplicas": maximum,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": options.target_cpu},
                            },
                        }
                    ],
                },
            }
        )
    return out


def services(app: Application, options: KubeOptions, workflows: Iterable[str] | None = None) -> list[Manifest]:
    chosen = [app.workflow(w) for w in workflows] if workflows is not None else list(app.workflows)
    out: list[Manifest] = []
    for wf in chosen:
        for address, node in Workflow.leaves(wf).items():
            if isinstance(node, Service):
                out.extend(online_service(app, address, node, options))
    unknown = set(options.autoscale) - {
        a for wf in chosen for a, n in Workflow.leaves(wf).items() if isinstance(n, Service)
    }
    if unknown:
        raise BackendError(
            f"Autoscaling names {', '.join(sorted(map(repr, unknown)))}, which is not a service of the application; "
            "name a Service node (its address, like 'predictor')."
        )
    return out


def base(app: Application, options: KubeOptions) -> list[Manifest]:
    """Everything but the batch work: namespace, RBAC, network policies, volumes, the spec, the tracker (in
    apply order)."""
    out: list[Manifest] = [namespace(app, options)] if options.managed_namespace else []
    out += rbac(app, options)
    out += network_policies(app, options)
    out += claims(app, options)
    out.append(spec_map(app, options))
    out += tracker(app, options)
    return out


def manifests(app: Application, options: KubeOptions) -> list[Manifest]:
    """Every object of the application except batch runs: :func:`base` and the online services."""
    app.validate(check_files=False)
    return [*base(app, options), *services(app, options)]


# -- a step as a Job (clusters without Argo) -------------------------------------------------------
def step_job(
    app: Application,
    address: str,
    node: Executor,
    options: KubeOptions,
    *,
    name: str,
    run_id: str,
    attempt: int | str,
    workflow: str,
    args: list[str],
    env: Mapping[str, str],
    timeout: float | None = None,
) -> Manifest:
    """One attempt of one step as a Job: no retries of its own (the scheduler retries, with backoff, as it
    does everywhere), the step's timeout as the Job's deadline, the pod left for its logs."""
    labels = app_labels(app.name, "step", node=address, run=run_id, workflow=workflow, attempt=str(attempt))
    pod = _pod_spec(options, [step_container(app.name, address, node, options, args, env)], step_volumes(app.name))
    pod["restartPolicy"] = "Never"
    pod["serviceAccountName"] = workload_name(app.name)
    spec: dict[str, Any] = {"backoffLimit": 0}
    if timeout is not None:
        spec["activeDeadlineSeconds"] = max(1, math.ceil(timeout))
    spec["template"] = {"metadata": {"labels": labels}, "spec": pod}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(name, options.namespace, labels),
        "spec": spec,
    }


def step_args(node: Executor, params: Mapping[str, Any]) -> list[str]:
    """``script PATH --name value ...`` (or ``call module:function ...``), as the launcher takes them."""
    return step_command(node, dict(params))


# -- hooks for workloads the layers above add (the agents' Deployments) ----------------------------
def workload_deployment(
    app: Application,
    options: KubeOptions,
    name: str,
    component: str,
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    *,
    replicas: int = 1,
    recreate: bool = False,
    **extra: str,
) -> Manifest:
    """A Deployment of ``app`` built as the tracker's and the services' are: the application's labels (so
    :meth:`~.app.KubernetesApp.status`, ``stop`` and ``cleanup`` find it), its ServiceAccount, the pod's
    security context and image pull secrets. ``extra`` keys become ``scanflow.io/KEY`` labels."""
    return _deployment(app, options, name, component, replicas, container, volumes, recreate, **extra)


def env_vars(values: Mapping[str, str]) -> list[dict[str, str]]:
    """A container's ``env`` from a mapping."""
    return _env(values)


def env_from_secrets(options: KubeOptions) -> list[dict[str, Any]]:
    """A container's ``envFrom``: the option's ``env_secrets``, only referenced by name."""
    return _env_from(options)
