"""Agents as long-running Deployments of an application deployed with the Kubernetes backend.

:func:`start_agent` runs one declared agent as a Deployment of one replica in the application's namespace: the
agent image of :mod:`.docker` (pushed under the ``KubernetesApp``'s registry, or already pushed under its
``tag``), :func:`~.spec.service_spec`'s command, ``MLFLOW_TRACKING_URI`` pointing at the application's tracker
Service, and the steps' data volume and ``scanflow.yaml`` ConfigMap mounted where the steps have them. The pod
runs as the images' non-root user with requests and limits, and has ``terminationGracePeriodSeconds`` to stop
cleanly on SIGTERM (a workflow the agent started is cancelled). The strategy is ``Recreate``: there is never a
second copy of an agent taking the same decisions. The Deployment carries the application's labels
(``app.kubernetes.io/component: agent``, ``scanflow.io/role: agent``, ``scanflow.io/agent: NAME``), so
``KubernetesApp.status()``, ``stop()`` and ``cleanup()`` see it. No Secret is written: ``env_secrets`` and
``image_pull_secrets`` are referenced by name, as for the steps.

Example
-------
>>> k8s = KubernetesApp(app, registry="registry.example.org/ml")          # doctest: +SKIP
>>> start_agent(k8s, "planner")                                             # doctest: +SKIP
AgentDeployment(agent='planner', deployment='digits-agent-planner', image='registry.example.org/ml/...', ...)
>>> [(a.agent, a.ready) for a in list_agents(k8s)]                          # doctest: +SKIP
[('planner', True)]
>>> stop_agent(k8s, "planner")                                              # doctest: +SKIP
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..deploy.base import DeployEvent, OnProgress
from ..deploy.container import APP_DIR
from ..deploy.kubernetes import manifests as m
from ..deploy.kubernetes.names import object_name, selector
from ..errors import BackendError
from ..workflow import Application, Resources
from .spec import check, service_spec

if TYPE_CHECKING:
    from ..deploy.kubernetes import KubernetesApp

__all__ = [
    "AGENT_COMPONENT",
    "GRACE_SECONDS",
    "AgentDeployment",
    "agent_image",
    "agent_logs",
    "agent_manifest",
    "deployment_name",
    "list_agents",
    "start_agent",
    "stop_agent",
]

AGENT_COMPONENT = "agent"
AGENT_LABEL = "scanflow.io/agent"
# Long enough for an agent to cancel the workflow it is running and record that decision after SIGTERM.
GRACE_SECONDS = 60
# A checker loads a TensorFlow detector: more than the default half-gigabyte.
KIND_RESOURCES = {"checker": Resources(cpu="1", memory="2Gi")}


@dataclass(frozen=True)
class AgentDeployment:
    """An agent running on a cluster: which agent, its Deployment and namespace, the image, and its replicas
    (wanted and ready)."""

    agent: str
    deployment: str
    image: str
    namespace: str
    replicas: int = 1
    ready_replicas: int = 0

    @property
    def ready(self) -> bool:
        return self.ready_replicas >= self.replicas


def deployment_name(app: Application, agent: str) -> str:
    """``APP-agent-AGENT``, checked as a Kubernetes name (``KubernetesNameError`` says what to shorten)."""
    return object_name(app.name, "agent", agent, what="Deployment")


def agent_manifest(
    app: Application, agent: str, options: m.KubeOptions, image: str, resources: Resources | None = None
) -> m.Manifest:
    """The Deployment of ``agent`` (declared in ``app``): pure, no cluster needed (what ``start_agent`` applies).

    Raises
    ------
    AgentDefinitionError
        ``app`` declares no such agent (the message lists the ones it declares).
    KubernetesNameError
        ``APP-agent-AGENT`` is too long or not a DNS-1123 label.
    """
    service = service_spec(app, agent, workdir=APP_DIR)
    name = deployment_name(app, agent)
    env = {
        **service.env,
        "SCANFLOW_SPEC": f"{m.SPEC_DIR}/scanflow.yaml",
        "MLFLOW_TRACKING_URI": m.tracker_url(app.name),
        "HOME": m.HOME_DIR,  # an emptyDir: the root filesystem is read-only
    }
    container: dict[str, Any] = {
        "name": "agent",
        "image": image,
        "imagePullPolicy": options.pull_policy,
        "command": list(service.command),
        "workingDir": service.workdir,
        "env": m.env_vars(env),
    }
    if options.env_secrets:
        container["envFrom"] = m.env_from_secrets(options)
    chosen = resources or KIND_RESOURCES.get(service.kind) or options.default_resources
    container["resources"] = m.resources(f"agent {agent}", chosen, options.default_resources)
    container["securityContext"] = m.container_security()
    container["volumeMounts"] = m.step_mounts(options)
    obj = m.workload_deployment(
        app, options, name, AGENT_COMPONENT, container, m.step_volumes(app.name),
        recreate=True, role=AGENT_COMPONENT, agent=agent,
    )  # fmt: skip
    obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = GRACE_SECONDS
    return obj


def agent_image(
    deployment: KubernetesApp,
    packages: list[str] | tuple[str, ...] = (),
    on_event: OnProgress | None = None,
) -> str:
    """The agent image as the cluster pulls it: already pushed under the deployment's ``tag``, or built by the
    image builder (:func:`~scanflow_jupyter.deploy.builder.image_builder`, the agents' image of the Docker
    backend) and pushed under its ``registry`` (without one, the local name, for ``kind load docker-image``);
    the build and the push reported to ``on_event``."""
    from ..deploy.container import check_image_name, repository
    from ..deploy.kubernetes.images import push, with_registry

    app = deployment.app
    if deployment.tag is not None:
        return with_registry(
            check_image_name(f"{repository(app.name, 'agents')}:{deployment.tag}"), deployment.registry
        )
    from ..deploy.builder import image_builder

    builder = image_builder(app, **deployment.docker_options)
    local = builder.agent_image(packages, on_event)
    if not deployment.registry:
        return local
    return push(builder.client, {"agents": local}, deployment.registry, on_event)["agents"]


def start_agent(
    deployment: KubernetesApp,
    agent: str,
    *,
    image: str | None = None,
    start: bool = True,
    wait: bool = True,
    timeout: float = 300.0,
    on_event: OnProgress | None = None,
) -> AgentDeployment:
    """Run ``agent`` (declared in the application's ``scanflow.yaml``) as a Deployment of ``deployment``.

    The application's namespace, RBAC, volumes, spec and tracker are applied first (``start=False`` skips
    that, when they are there already), the image is found or built and pushed (``image`` overrides it), and
    the Deployment is applied (an earlier one of the agent is updated in place) and, with ``wait``, watched until
    it is ready. Bad input (an agent the application does not declare, a name Kubernetes refuses) fails before
    anything is built or applied.
    """
    check(deployment.app, agent)
    service = service_spec(deployment.app, agent)
    name = deployment_name(deployment.app, agent)
    say = on_event or (lambda _event: None)
    if start:
        deployment.start(on_event, timeout=timeout)
    chosen = image or agent_image(deployment, service.packages, on_event)
    options = deployment.options()
    if not start:
        deployment.cluster.check_secrets(options.image_pull_secrets, options.namespace)
    obj = agent_manifest(deployment.app, agent, options, chosen)
    stored = deployment.cluster.apply(obj)
    say(DeployEvent.progress(f"applied Deployment {name}"))
    if wait:
        stored = deployment.wait_ready(name, timeout)
    return _described(stored, options.namespace)


def _described(obj: dict[str, Any], namespace: str) -> AgentDeployment:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    return AgentDeployment(
        agent=str((meta.get("labels") or {}).get(AGENT_LABEL, "")),
        deployment=str(meta.get("name", "")),
        image=str(containers[0].get("image", "")),
        namespace=str(meta.get("namespace") or namespace),
        replicas=int(spec.get("replicas", 1)),
        ready_replicas=int(status.get("readyReplicas") or 0),
    )


def list_agents(deployment: KubernetesApp) -> list[AgentDeployment]:
    """The application's agent Deployments on the cluster (found by label), with their readiness."""
    found = deployment.cluster.list_objects(
        "Deployment", deployment.namespace, selector(deployment.name, AGENT_COMPONENT)
    )
    return sorted((_described(o, deployment.namespace) for o in found), key=lambda a: a.agent)


def stop_agent(deployment: KubernetesApp, agent: str) -> bool:
    """Delete the agent's Deployment, found by its labels (its pod gets SIGTERM and stops cleanly within
    :data:`GRACE_SECONDS`); False when there was none. An agent no longer in ``scanflow.yaml`` can be stopped."""
    gone = False
    sel = selector(deployment.name, AGENT_COMPONENT, agent=agent)
    for obj in deployment.cluster.list_objects("Deployment", deployment.namespace, sel):
        gone = deployment.cluster.delete("Deployment", obj["metadata"]["name"], deployment.namespace) or gone
    return gone


def agent_logs(deployment: KubernetesApp, agent: str, tail: int = 50) -> str:
    """The last lines the agent's newest pod wrote (its decisions, errors and retries)."""
    sel = selector(deployment.name, AGENT_COMPONENT, agent=agent)
    pods = deployment.cluster.list_objects("Pod", deployment.namespace, sel)
    if not pods:
        raise BackendError(
            f"Agent {agent!r} of {deployment.name!r} has no pod in namespace {deployment.namespace!r}; start it with "
            f"start_agent(deployment, {agent!r}), or look at 'kubectl -n {deployment.namespace} describe deployment "
            f"{deployment_name(deployment.app, agent)}'."
        )
    newest = max(pods, key=lambda p: str(p["metadata"].get("creationTimestamp", "")))
    return deployment.cluster.logs(newest["metadata"]["name"], deployment.namespace, tail=tail)
