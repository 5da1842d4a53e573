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


# -- read-only root filesystems, tokens, network policies ---------------------------------------------------
def _pods_of(objects: list[dict[str, Any]], argo: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(what, pod spec) of every pod the application makes: Deployments, Jobs, and one per Argo step template
    (its container with the workflow's volumes)."""
    pods = [(f"{o['kind']} {o['metadata']['name']}", o["spec"]["template"]["spec"]) for o in objects
            if o["kind"] in ("Deployment", "Job")]  # fmt: skip
    for template in argo["spec"]["templates"]:
        if "container" in template:
            pod = {"containers": [template["container"]], "volumes": argo["spec"]["volumes"]}
            pods.append((f"Argo template {template['name']}", pod))
    return pods


def test_every_container_has_a_read_only_root_with_tmp_and_home_writable(
    deployment: KubernetesApp, objects: list[dict[str, Any]], argo: dict[str, Any]
) -> None:
    """(The agents' Deployment is checked in test_agents.py.)"""
    job = a_job(deployment)  # its env is the test's, as the Jobs backend hands it over (with step_env's HOME)
    pods = _pods_of([*objects, job], argo)
    assert {what.split()[0] for what, _ in pods} == {"Deployment", "Job", "Argo"}
    for what, pod in pods:
        empty = {v["name"] for v in pod["volumes"] if v.get("emptyDir") == {}}
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, what
            writable = {m["mountPath"]: m["name"] for m in container["volumeMounts"] if not m.get("readOnly")}
            assert writable.get("/tmp") in empty, f"{what}: /tmp is not an emptyDir"
            env = {e["name"]: e["value"] for e in container.get("env", [])}
            if what != f"Job {job['metadata']['name']}":
                assert env["HOME"] == "/home/scanflow", what
            assert writable.get("/home/scanflow") in empty, f"{what}: HOME is not an emptyDir"
    tracker = next(c for what, p in pods if what == "Deployment tabular-tracker" for c in p["containers"])
    # MLflow's own files: its SQLite store and artifacts on the tracker's volume.
    assert {"/mlflow/db", "/mlflow/artifacts"} <= {m["mountPath"] for m in tracker["volumeMounts"]}
    # Argo's init and wait containers too (Argo gives them emptyDir volumes of their own).
    for container in [*json.loads(argo["spec"]["podSpecPatch"]).values()]:
        assert container[0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_only_the_argo_workflows_pods_get_a_service_account_token(
    deployment: KubernetesApp, objects: list[dict[str, Any]], argo: dict[str, Any]
) -> None:
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    assert set(accounts) == {"tabular-runner", "tabular-workload"}
    assert accounts["tabular-workload"]["automountServiceAccountToken"] is False
    # Argo's wait container reports step results with the pod's token: the runner keeps it, and only the
    # workflow uses the runner (Argo never writes `true` into a pod spec, so the account must not say false).
    assert "automountServiceAccountToken" not in accounts["tabular-runner"]
    assert argo["spec"]["serviceAccountName"] == "tabular-runner"
    assert "automountServiceAccountToken" not in argo["spec"] and "executor" not in argo["spec"]
    for what, pod in _pods_of([*objects, a_job(deployment)], {"spec": {"templates": []}}):
        assert pod["automountServiceAccountToken"] is False, what
        assert pod["serviceAccountName"] == "tabular-workload", what
    (binding,) = [o for o in objects if o["kind"] == "RoleBinding"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tabular-runner", "namespace": "scanflow-tabular"}
    ]


Pod = tuple[dict[str, str], dict[str, str]]  # (its namespace's labels, its labels)


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector's meaning (matchLabels, and matchExpressions with In, NotIn, Exists, DoesNotExist)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        key, op, values = e["key"], e["operator"], e.get("values", [])
        ok = {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}[op]  # fmt: skip
        if not ok:
            return False
    return True


def _peer(peer: dict[str, Any], namespace: str, pod: Pod) -> bool:
    ns_labels, labels = pod
    if "namespaceSelector" in peer:
        in_ns = _selects(peer["namespaceSelector"], ns_labels)
    else:
        in_ns = ns_labels.get("kubernetes.io/metadata.name") == namespace
    return in_ns and _selects(peer.get("podSelector", {}), labels)


def _rule(rule: dict[str, Any], peers: str, namespace: str, pod: Pod, port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if ports is not None and not any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports):
        return False
    return peers not in rule or any(_peer(peer, namespace, pod) for peer in rule[peers])


def allowed(policies: list[dict[str, Any]], src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
    """Whether NetworkPolicies let ``src`` open ``port`` on ``dst``: the egress side (if a policy of the
    source's namespace selects it for Egress, one of its rules must match) and the ingress side likewise."""

    def side(pod: Pod, kind: str, key: str, peers: str, other: Pod) -> bool:
        chosen = [p for p in policies if p["metadata"]["namespace"] == pod[0].get("kubernetes.io/metadata.name")
                  and kind in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], pod[1])]  # fmt: skip
        return not chosen or any(
            _rule(r, peers, p["metadata"]["namespace"], other, port, protocol)
            for p in chosen
            for r in p["spec"].get(key, [])
        )

    return side(src, "Egress", "egress", "to", dst) and side(dst, "Ingress", "ingress", "from", src)


def test_network_policies_deny_all_but_dns_the_tracker_argos_api_calls_and_the_services(
    deployment: KubernetesApp, objects: list[dict[str, Any]], argo: dict[str, Any]
) -> None:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    ns = {"kubernetes.io/metadata.name": "scanflow-tabular"}
    labels = {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"] for o in objects
              if o["kind"] == "Deployment"}  # fmt: skip
    tracker, predictor = (ns, labels["tabular-tracker"]), (ns, labels["tabular-predictor"])
    job = (ns, a_job(deployment)["spec"]["template"]["metadata"]["labels"])
    argo_step = (ns, {**argo["spec"]["podMetadata"]["labels"], "workflows.argoproj.io/workflow": "tabular-pipeline-x"})
    dns = ({"kubernetes.io/metadata.name": "kube-system"}, {"k8s-app": "kube-dns"})
    elsewhere = ({"kubernetes.io/metadata.name": "other"}, {"app": "curious"})
    stranger = (ns, {"app": "not-ours"})  # a pod in the namespace without the application's labels
    api_server = ({"kubernetes.io/metadata.name": "default"}, {"component": "kube-apiserver"})
    # The application's pods reach the tracker, and resolve names.
    for src in (job, argo_step, predictor):
        assert allowed(policies, src, tracker, 5000)
        assert allowed(policies, src, dns, 53, "UDP") and allowed(policies, src, dns, 53, "TCP")
    # Nobody else reaches the tracker, and not on another port.
    assert not allowed(policies, elsewhere, tracker, 5000)
    assert not allowed(policies, stranger, tracker, 5000)
    assert not allowed(policies, job, tracker, 22)
    # Services receive on their port from anywhere, and nothing else.
    assert allowed(policies, elsewhere, predictor, 8080)
    assert not allowed(policies, elsewhere, predictor, 5000)
    # No way out: not the internet, not the API server but for Argo's pods (their wait container).
    assert not allowed(policies, job, elsewhere, 443)
    assert not allowed(policies, job, api_server, 443) and not allowed(policies, tracker, api_server, 6443)
    assert allowed(policies, argo_step, api_server, 443) and allowed(policies, argo_step, api_server, 6443)
    assert not allowed(policies, argo_step, elsewhere, 80)
    # Every policy is the application's, and the default deny covers the whole namespace scanflow made.
    (deny,) = [p for p in policies if p["metadata"]["name"] == "tabular-default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert all(p["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tabular" for p in policies)


def test_in_a_given_namespace_only_the_applications_pods_are_denied(tabular_app: Any) -> None:
    objects = KubernetesApp(tabular_app, tag="t", namespace="team-ml").manifests()
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    ns = {"kubernetes.io/metadata.name": "team-ml"}
    neighbour, outside = (ns, {"app": "theirs"}), ({"kubernetes.io/metadata.name": "x"}, {})
    assert allowed(policies, neighbour, outside, 443) and allowed(policies, outside, neighbour, 80)
    tracker = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "tabular-tracker")
    assert not allowed(policies, neighbour, (ns, tracker["spec"]["template"]["metadata"]["labels"]), 5000)


def test_the_policy_model_is_not_a_rubber_stamp(objects: list[dict[str, Any]]) -> None:
    """Without the policies everything passes; a tracker policy open to all lets a stranger in."""
    ns = {"kubernetes.io/metadata.name": "scanflow-tabular"}
    tracker_labels = next(
        o for o in objects if o["metadata"]["name"] == "tabular-tracker" and o["kind"] == "Deployment"
    )
    tracker = (ns, tracker_labels["spec"]["template"]["metadata"]["labels"])
    elsewhere = ({"kubernetes.io/metadata.name": "other"}, {})
    assert allowed([], elsewhere, tracker, 5000)
    policies = yaml.safe_load(yaml.safe_dump([o for o in objects if o["kind"] == "NetworkPolicy"]))
    (open_tracker,) = [p for p in policies if p["metadata"]["name"] == "tabular-tracker"]
    del open_tracker["spec"]["ingress"][0]["from"]
    assert allowed(policies, elsewhere, tracker, 5000)
