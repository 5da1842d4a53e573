"""Agents as long-running Deployments on Kubernetes (scanflow_jupyter.agents.kubernetes): the Deployment against the
official schemas and its golden file, start / list / stop through the official client (on the stand-in of the API
server, and again on the cluster of KUBECONFIG with the marker ``k8s``), the image's name, and bad input.

``SCANFLOW_UPDATE_GOLDEN=1`` regenerates the golden file.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from scanflow_jupyter.agents.kubernetes import (
    GRACE_SECONDS,
    agent_image,
    agent_logs,
    agent_manifest,
    list_agents,
    start_agent,
    stop_agent,
)
from scanflow_jupyter.deploy.base import DeployEvent
from scanflow_jupyter.deploy.kubernetes import KubernetesApp
from scanflow_jupyter.deploy.kubernetes.app import dump
from scanflow_jupyter.deploy.kubernetes.manifests import container_security, pod_security
from scanflow_jupyter.errors import AgentDefinitionError, BackendError, KubernetesNameError
from scanflow_jupyter.workflow.model import AgentSpec

from .conftest import K8S_VERSIONS, ClusterCase, k8s_validate, stand_in_cluster
from .fakeapi import FakeAPI
from .test_manifests import SETTINGS, golden

LONG = "planner-" + "x" * 52  # a valid agent name, but 'tabular-agent-' + it is 74 characters


@pytest.fixture
def app(tabular_app: Any) -> Any:
    """examples/tabular (with its online service) declaring a planner and a checker."""
    tabular_app.agents += [
        AgentSpec(name="planner", kind="planner", settings={"model": "tabular-linear"}),
        AgentSpec(name="checker", kind="checker", settings={"detector": "models:/tabular-checker/1",
                                                             "batches": "work/incoming"}),
    ]  # fmt: skip
    return tabular_app


@pytest.fixture
def checker(app: Any) -> dict[str, Any]:
    k8s = KubernetesApp(app, **SETTINGS)
    return agent_manifest(app, "checker", k8s.options(), agent_image(k8s))


# -- the Deployment -----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_agent_deployment_validates_against_the_official_schemas(checker: dict[str, Any], version: str) -> None:
    k8s_validate(checker, version)


def test_the_agent_deployment_matches_its_golden_file(checker: dict[str, Any]) -> None:
    golden("agent-checker.yaml", dump(checker))


def test_the_agent_deployment_runs_the_service_spec_safely(checker: dict[str, Any]) -> None:
    spec = checker["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    labels = checker["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "tabular" and labels["app.kubernetes.io/component"] == "agent"
    assert labels["scanflow.io/role"] == "agent" and labels["scanflow.io/agent"] == "checker"
    assert pod["securityContext"] == pod_security() and container["securityContext"] == container_security()
    assert pod["terminationGracePeriodSeconds"] == GRACE_SECONDS >= 30
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "tabular-workload"
    assert container["image"] == "registry.example.org/ml/scanflow/tabular-agents:golden"
    assert container["command"] == ["python", "-m", "scanflow_jupyter.agents", "run", "/app", "--agent", "checker"]
    assert container["workingDir"] == "/app"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://tabular-tracker:5000" and env["SCANFLOW_AGENT"] == "checker"
    assert container["resources"]["requests"] == container["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    # Secrets only referenced by name, never written.
    assert container["envFrom"] == [{"secretRef": {"name": "mlflow-credentials"}}]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert checker["kind"] == "Deployment" and "stringData" not in dump(checker)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "tabular-data"}
    assert volumes["spec"]["configMap"] == {"name": "tabular-spec"}
    assert {v["mountPath"] for v in container["volumeMounts"]} == {
        "/app/work",
        "/etc/scanflow",
        "/tmp",
        "/home/scanflow",
    }
    # A read-only root filesystem: what the agent writes goes to its volumes, /tmp and HOME.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert volumes["tmp"] == {"name": "tmp", "emptyDir": {}} and volumes["home"] == {"name": "home", "emptyDir": {}}
    assert {"name": "HOME", "value": "/home/scanflow"} in container["env"]


def test_the_image_is_built_and_pushed_under_the_registry(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanflow_jupyter.deploy import docker as deploy_docker
    from scanflow_jupyter.deploy.kubernetes import images

    class Builder:  # a DockerApp without an engine
        client = "the engine"

        def __init__(self, app: Any, **options: Any) -> None:
            self.options = options

        def agent_image(self, packages: Any, on_event: Any = None) -> str:
            assert list(packages) == ["tensorflow-cpu"]
            return "scanflow/tabular-agents:a1"

    pushed: list[tuple[Any, dict[str, str], str]] = []

    def push(client: Any, local: dict[str, str], registry: str, on_event: Any = None) -> dict[str, str]:
        pushed.append((client, dict(local), registry))
        return {n: images.with_registry(i, registry) for n, i in local.items()}

    monkeypatch.setattr(deploy_docker, "DockerApp", Builder, raising=False)
    monkeypatch.setattr(images, "push", push)
    k8s = KubernetesApp(app, registry="registry.example.org/ml")
    assert agent_image(k8s, ["tensorflow-cpu"]) == "registry.example.org/ml/scanflow/tabular-agents:a1"
    assert pushed == [("the engine", {"agents": "scanflow/tabular-agents:a1"}, "registry.example.org/ml")]


# -- through the official client ----------------------------------------------------------------------
def test_start_list_and_stop_an_agent(case: ClusterCase, app: Any) -> None:
    """Applied, listed with its readiness, found by the application's status, and deleted by its labels. On a
    real cluster the image is not pulled (a made-up tag), so readiness is not waited for there."""
    k8s = KubernetesApp(app, namespace=case.namespace, tag="t1", cluster=case.cluster)
    lines: list[DeployEvent] = []
    started = start_agent(k8s, "planner", start=False, wait=not case.real, timeout=60, on_event=lines.append)
    assert started.deployment == "tabular-agent-planner" and started.namespace == case.namespace
    assert started.agent == "planner" and started.image == "scanflow/tabular-agents:t1"
    assert lines == [DeployEvent.progress("applied Deployment tabular-agent-planner")]
    assert start_agent(k8s, "planner", start=False, wait=False).deployment == started.deployment  # in place
    (listed,) = list_agents(k8s)
    assert (listed.agent, listed.deployment, listed.replicas) == ("planner", "tabular-agent-planner", 1)
    if not case.real:
        assert started.ready and listed.ready
    assert "Deployment tabular-agent-planner" in str(k8s.status())
    assert stop_agent(k8s, "checker") is False  # not running: nothing of another agent is touched
    assert [a.agent for a in list_agents(k8s)] == ["planner"]
    assert stop_agent(k8s, "planner") is True
    assert list_agents(k8s) == []
    assert stop_agent(k8s, "planner") is False


def test_an_agent_beside_the_deployed_application(fake: FakeAPI, app: Any) -> None:
    """start=True deploys the application first; its stop() and cleanup() take the agents with it."""
    k8s = KubernetesApp(app, tag="t1", cluster=stand_in_cluster(fake))
    start_agent(k8s, "checker", timeout=60)
    start_agent(k8s, "planner", start=False, timeout=60)
    assert [(a.agent, a.ready) for a in list_agents(k8s)] == [("checker", True), ("planner", True)]
    status = str(k8s.status())
    assert "Deployment tabular-tracker: 1/1 ready" in status and "Deployment tabular-agent-checker: 1/1 ready" in status
    with pytest.raises(BackendError, match=r"Agent 'planner' of 'tabular' has no pod in namespace 'scanflow-tabular'"):
        agent_logs(k8s, "planner")
    assert "Deployment tabular-agent-planner" in k8s.stop()
    assert list_agents(k8s) == []


# -- bad input ----------------------------------------------------------------------------------------
class Untouchable:
    """A cluster no call may reach: bad input fails before anything is applied."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the cluster was used ({name}) for bad input")


@pytest.mark.parametrize(
    ("agent", "error", "message"),
    [
        ("improver", AgentDefinitionError, r"application 'tabular' declares no agent 'improver'; its agents: planner, "
                                           r"checker"),
        (LONG, KubernetesNameError, rf"Deployment name 'tabular-agent-{LONG}' is 74 characters; Kubernetes allows "
                                    r"at most 63\. .*shorten the application name"),
    ],
)  # fmt: skip
def test_bad_agents_fail_before_the_cluster_is_used(app: Any, agent: str, error: type, message: str) -> None:
    app.agents.append(AgentSpec(name=LONG, kind="planner", settings={"model": "m"}))
    k8s = KubernetesApp(app, tag="t1", cluster=Untouchable())  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        start_agent(k8s, agent)
    with pytest.raises(error, match=message):
        agent_manifest(app, agent, k8s.options(), "img:1")


def test_importing_the_module_loads_neither_client() -> None:
    code = (
        "import sys, scanflow_jupyter.agents.kubernetes; "
        "print([m for m in ('kubernetes', 'docker') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
