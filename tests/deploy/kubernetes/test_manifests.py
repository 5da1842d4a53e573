"""Generated Kubernetes manifests and Argo Workflows: official schemas of several Kubernetes versions, Argo's
Workflow schema, golden files, security and RBAC, the DAG's shape, and bad input. No cluster needed.

Regenerate the golden files with ``SCANFLOW_UPDATE_GOLDEN=1 pytest tests/deploy/kubernetes/test_manifests.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanflow_jupyter.deploy.kubernetes import KubernetesApp
from scanflow_jupyter.deploy.kubernetes.app import dump, load_all
from scanflow_jupyter.deploy.kubernetes.manifests import container_security, step_job
from scanflow_jupyter.errors import BackendError, KubernetesNameError, WorkflowValidationError
from scanflow_jupyter.workflow import Executor, Resources, Workflow

from ...golden import check_golden
from .conftest import GOLDEN, K8S_VERSIONS, argo_validator, k8s_validate

SETTINGS: dict[str, Any] = {
    "tag": "golden",
    "registry": "registry.example.org/ml",
    "image_pull_secrets": ["regcred"],
    "env_secrets": ["mlflow-credentials"],
    "autoscale": {"predictor": 4},
}


def golden(name: str, text: str) -> None:
    check_golden(GOLDEN / name, text)


@pytest.fixture
def deployment(tabular_app: Any) -> KubernetesApp:
    return KubernetesApp(tabular_app, **SETTINGS)


@pytest.fixture
def objects(deployment: KubernetesApp) -> list[dict[str, Any]]:
    return deployment.manifests()


@pytest.fixture
def argo(deployment: KubernetesApp) -> dict[str, Any]:
    return deployment.argo_workflow("pipeline")


def a_job(deployment: KubernetesApp) -> dict[str, Any]:
    app = deployment.app
    node = app.workflow("pipeline").find("gather")
    assert isinstance(node, Executor)
    return step_job(
        app,
        "gather",
        node,
        deployment.options(deployment.image_names()),
        name="tabular-gather-113000-3f9a1c-a1",
        run_id="20261123-113000-3f9a1c",
        attempt=1,
        workflow="pipeline",
        args=["script", "steps/gather.py", "--rows", "0"],
        env={"SCANFLOW_NODE": "gather", "MLFLOW_TRACKING_URI": "http://tabular-tracker:5000"},
        timeout=90.5,
    )


# -- schemas ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_the_official_schemas(
    deployment: KubernetesApp, objects: list[dict[str, Any]], version: str
) -> None:
    kinds = [o["kind"] for o in objects]
    assert kinds == [
        "Namespace",
        "ServiceAccount",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "NetworkPolicy",
        "NetworkPolicy",
        "NetworkPolicy",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PersistentVolumeClaim",
        "ConfigMap",
        "Deployment",
        "Service",
        "Deployment",
        "Service",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
    ]
    for obj in [*objects, a_job(deployment)]:
        k8s_validate(obj, version)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_argo_workflow_validates_against_argos_schema(argo: dict[str, Any], version: str) -> None:
    validator = argo_validator(version)
    errors = sorted(validator.iter_errors(argo), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_argo_schema_catches_mistakes(argo: dict[str, Any]) -> None:
    """The vendored schema is not a rubber stamp: a misspelt field, a bad parameter name, a container
    field Kubernetes does not know, each fails."""
    validator = argo_validator()
    broken = yaml.safe_load(yaml.safe_dump(argo))
    broken["spec"]["templates"][1]["retryStratgy"] = {"limit": 1}
    broken["spec"]["arguments"]["parameters"][0]["name"] = "gather.rows"
    broken["spec"]["templates"][1]["container"]["imagePullPolicy "] = "Always"
    messages = [e.message for e in validator.iter_errors(broken)]
    assert any("retryStratgy" in m for m in messages)
    assert any("gather.rows" in m for m in messages)
    assert any("imagePullPolicy " in m for m in messages)


def test_the_official_schemas_catch_mistakes(objects: list[dict[str, Any]]) -> None:
    import kubernetes_validate

    deployment = yaml.safe_load(yaml.safe_dump(next(o for o in objects if o["kind"] == "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_validate(deployment, K8S_VERSIONS[-1])


# -- golden files ---------------------------------------------------------------------------------------
def test_manifests_match_golden_files(
    deployment: KubernetesApp, objects: list[dict[str, Any]], argo: dict[str, Any]
) -> None:
    golden("manifests.yaml", "".join(dump(o) for o in objects))
    golden("argo-pipeline.yaml", dump(argo))
    golden("job-gather.yaml", dump(a_job(deployment)))


def test_export_writes_every_manifest_and_the_argo_workflow(deployment: KubernetesApp, tmp_path: Path) -> None:
    text = deployment.export()
    docs = load_all(text)
    assert [d["kind"] for d in docs][-1] == "Workflow"
    assert docs[:-1] == deployment.manifests()
    folder = Path(deployment.export(tmp_path / "k8s"))
    files = sorted(p.name for p in folder.glob("*.yaml"))
    assert files[0] == "01-namespace-scanflow-tabular.yaml"
    assert "13-deployment-tabular-tracker.yaml" in files
    assert len(files) == len(docs) - 1
    assert load_all((folder / "argo" / "pipeline.yaml").read_text()) == [docs[-1]]
    # A second export into the same folder leaves no stale file behind.
    (folder / "99-service-gone.yaml").write_text("kind: Service\n")
    deployment.export(folder)
    assert not (folder / "99-service-gone.yaml").exists()


# -- what the manifests say -------------------------------------------------------------------------------
def _pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "Job")]


def test_pods_run_as_non_root_with_requests_and_limits(
    deployment: KubernetesApp, objects: list[dict[str, Any]]
) -> None:
    for pod in _pod_specs([*objects, a_job(deployment)]):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["requests"] and container["resources"]["limits"]
    namespace = objects[0]["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"


def test_executor_resources_become_requests_and_limits(tabular_app: Any) -> None:
    node = tabular_app.workflow("pipeline").find("modeling/forest")
    node.resources = Resources(cpu=1.5, memory="2Gi", gpu=1)
    deployment = KubernetesApp(tabular_app, tag="t")
    wf = deployment.argo_workflow("pipeline")
    template = next(t for t in wf["spec"]["templates"] if t["name"] == "step-modeling-forest")
    assert template["container"]["resources"] == {
        "requests": {"cpu": "1500m", "memory": "2Gi"},
        "limits": {"cpu": "1500m", "memory": "2Gi", "nvidia.com/gpu": "1"},
    }


def test_rbac_is_least_privilege(objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Secret"}
    (role,) = [o for o in objects if o["kind"] == "Role"]
    assert role["metadata"]["namespace"] == "scanflow-tabular"
    assert role["rules"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}
    ]
    (binding,) = [o for o in objects if o["kind"] == "RoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tabular-runner"}
    assert "cluster-admin" not in yaml.safe_dump(objects)


def test_secrets_are_only_referenced(
    deployment: KubernetesApp, objects: list[dict[str, Any]], argo: dict[str, Any]
) -> None:
    account = next(o for o in objects if o["kind"] == "ServiceAccount")
    assert account["imagePullSecrets"] == [{"name": "regcred"}]
    for pod in _pod_specs(objects):
        assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert argo["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    predictor = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "tabular-predictor")
    assert predictor["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [
        {"secretRef": {"name": "mlflow-credentials"}}
    ]
    assert "kind: Secret" not in deployment.export()


def test_everything_is_labelled_with_the_application(objects: list[dict[str, Any]], argo: dict[str, Any]) -> None:
    for obj in [*objects, argo]:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "scanflow-jupyter"
        assert labels["app.kubernetes.io/part-of"] == "tabular"
    for template in argo["spec"]["templates"]:
        if "container" in template:
            assert template["metadata"]["labels"]["scanflow.io/node"]


def test_the_argo_dag_mirrors_the_graph(argo: dict[str, Any]) -> None:
    spec = argo["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    assert spec["entrypoint"] == "pipeline"
    top = templates["pipeline"]["dag"]["tasks"]
    assert [(t["name"], t["template"], t.get("dependencies", [])) for t in top] == [
        ("gather", "step-gather", []),
        ("preprocess", "step-preprocess", ["gather"]),
        ("modeling", "dag-modeling", ["preprocess"]),
        ("evaluate", "step-evaluate", ["modeling"]),
    ]
    nested = templates["dag-modeling"]["dag"]["tasks"]
    assert [(t["name"], t["template"]) for t in nested] == [
        ("linear", "step-modeling-linear"),
        ("forest", "step-modeling-forest"),
    ]
    params = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}
    assert params["modeling-linear_max-iter"] == "200"
    assert params["preprocess_test-size"] == "0.25"
    linear = templates["step-modeling-linear"]
    assert linear["container"]["command"][-4:] == [
        "--c",
        "{{inputs.parameters.c}}",
        "--max-iter",
        "{{inputs.parameters.max-iter}}",
    ]
    task = nested[0]
    assert task["arguments"]["parameters"][1] == {
        "name": "max-iter",
        "value": "{{workflow.parameters.modeling-linear_max-iter}}",
    }


def test_retries_timeouts_and_overrides_reach_the_argo_workflow(tabular_app: Any) -> None:
    node = tabular_app.workflow("pipeline").find("preprocess")
    node.retries, node.retry_backoff, node.timeout = 2, 0.5, 90.2
    wf = KubernetesApp(tabular_app, tag="t").argo_workflow("pipeline", params={"preprocess.seed": 3})
    template = next(t for t in wf["spec"]["templates"] if t["name"] == "step-preprocess")
    assert template["retryStrategy"] == {
        "limit": 2,
        "retryPolicy": "Always",
        "backoff": {"duration": "0.5s", "factor": 2},
    }
    assert template["activeDeadlineSeconds"] == 91
    params = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
    assert params["preprocess_seed"] == "3"


def test_autoscaling_is_optional(tabular_app: Any) -> None:
    plain = KubernetesApp(tabular_app, tag="t").manifests()
    assert "HorizontalPodAutoscaler" not in {o["kind"] for o in plain}
    with pytest.raises(BackendError, match=r"'predict'.*not a service"):
        KubernetesApp(tabular_app, tag="t", autoscale={"predict": 3}).manifests()
    with pytest.raises(BackendError, match=r"below its replicas"):
        tabular_app.workflow("online").find("predictor").replicas = 2
        KubernetesApp(tabular_app, tag="t", autoscale={"predictor": 1}).manifests()


def test_a_given_namespace_is_used_and_never_created(tabular_app: Any) -> None:
    objects = KubernetesApp(tabular_app, tag="t", namespace="team-ml").manifests()
    assert objects[0]["kind"] == "ServiceAccount"
    assert {o["metadata"]["namespace"] for o in objects} == {"team-ml"}


# -- bad input ------------------------------------------------------------------------------------------
def test_names_too_long_for_kubernetes_are_refused(tabular_app: Any) -> None:
    tabular_app.name = "a" + "-very-long-application-name" * 2  # 55 characters: a valid label itself
    with pytest.raises(KubernetesNameError, match=r"Namespace name 'scanflow-a-very.*' is 64 characters.*at most 63"):
        KubernetesApp(tabular_app, tag="t")
    deployment = KubernetesApp(tabular_app, tag="t", namespace="ml")
    with pytest.raises(KubernetesNameError, match=r"'a-very.*-workload' is \d+ characters.*shorten the application"):
        deployment.manifests()


@pytest.mark.parametrize(
    ("namespace", "message"),
    [
        ("Team_ML", "not a valid DNS-1123 label"),
        ("-ml", "not a valid DNS-1123 label"),
        ("x" * 64, "64 characters"),
        ("ml\n", "not a valid DNS-1123 label"),  # '$' in a pattern would let a final newline through
    ],
)
def test_invalid_namespaces_are_refused(tabular_app: Any, namespace: str, message: str) -> None:
    with pytest.raises(KubernetesNameError, match=message):
        KubernetesApp(tabular_app, tag="t", namespace=namespace)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cpu", "lots", r"cpu 'lots' is not a quantity"),
        ("cpu", "-1", r"cpu '-1' is not a quantity"),
        ("memory", "512MB", r"memory '512MB' is not a quantity"),
        ("memory", "1.5 Gi", r"memory '1.5 Gi' is not a quantity"),
        ("cpu", 0.0001, r"cpu 0.0001 is finer than a millicore"),
        ("cpu", float("inf"), r"cpu inf is not a quantity"),
        ("cpu", float("nan"), r"cpu nan is not a quantity"),
    ],
)
def test_a_resource_that_is_not_a_quantity_is_reported(tabular_app: Any, field: str, value: Any, message: str) -> None:
    node = tabular_app.workflow("pipeline").find("gather")
    node.resources = Resources(**{field: value})
    with pytest.raises(WorkflowValidationError, match=rf"pipeline/gather\.resources\.{field}: {message}"):
        KubernetesApp(tabular_app, tag="t").manifests()
    assert any(p.where.endswith(f"resources.{field}") for p in tabular_app.problems(check_files=False))


def test_argo_parameter_names_that_collide_are_refused(tabular_app: Any) -> None:
    wf = tabular_app.workflow("pipeline")
    wf.nodes.append(Workflow(name="x", nodes=[Executor(name="y", script="steps/gather.py", parameters={"z": 1})]))
    wf.nodes.append(Executor(name="x-y", script="steps/gather.py", parameters={"z": 2}))
    with pytest.raises(KubernetesNameError, match=r"'x/y.z' and 'x-y.z' both become the Argo parameter 'x-y_z'"):
        KubernetesApp(tabular_app, tag="t").argo_workflow("pipeline")


def test_images_need_a_tag_a_map_or_a_docker_engine(tabular_app: Any) -> None:
    deployment = KubernetesApp(tabular_app, images={"gather": "r/x:1"})
    with pytest.raises(BackendError, match=r"No image for 'preprocess'.*--registry"):
        deployment.argo_workflow("pipeline")


def test_without_a_tag_the_images_come_from_a_docker_engine(
    tabular_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanflow_jupyter.errors import BackendUnavailableError

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(BackendUnavailableError, match=r"(?s)No Docker engine is reachable.*give their tag"):
        KubernetesApp(tabular_app).export()


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_argos_own_containers_meet_the_namespaces_pod_security(argo: dict[str, Any], version: str) -> None:
    """Argo adds an ``init`` container and a ``wait`` sidecar to each step pod, with no security context of
    their own; the namespace scanflow creates enforces ``restricted``, so the workflow patches them."""
    patch = json.loads(argo["spec"]["podSpecPatch"])
    (init,) = patch["initContainers"]
    (wait,) = patch["containers"]
    assert (init["name"], wait["name"]) == ("init", "wait")
    for container in (init, wait):
        assert container["securityContext"] == container_security()
    # The patch is a valid (partial) pod spec for the official schemas.
    k8s_validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "step"}, "spec": patch}, version)


def test_a_given_namespace_gets_no_executor_patch(tabular_app: Any) -> None:
    wf = KubernetesApp(tabular_app, tag="t", namespace="team-ml").argo_workflow("pipeline")
    assert "podSpecPatch" not in wf["spec"]


def test_argo_workflow_names_stay_within_what_argo_allows(tabular_app: Any) -> None:
    """Argo refuses a Workflow named longer than 63 characters; ``generateName`` adds 5."""
    tabular_app.name = "a" * 48  # 'aaa...-pipeline' is 57 characters: with '-' and 5 more, 63
    wf = KubernetesApp(tabular_app, tag="t", namespace="ml").argo_workflow("pipeline")
    assert len(wf["metadata"]["generateName"]) + 5 == 63
    tabular_app.name = "a" * 49
    with pytest.raises(KubernetesNameError, match=r"'a{49}-pipeline' \(58 characters\).*at most 56 characters"):
        KubernetesApp(tabular_app, tag="t", namespace="ml").argo_workflow("pipeline")
