"""The code that talks to a cluster (apply, watch, logs, delete, secrets, RBAC refusals), through the official
client. Each ``case`` test runs on the local stand-in of the API server, and again (marker ``k8s``) on the
cluster KUBECONFIG points at; the tests after them need the stand-in (a cluster that is not there, one
without Argo).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanflow_jupyter.deploy.kubernetes import KubernetesApp
from scanflow_jupyter.deploy.kubernetes.client import Cluster, connect
from scanflow_jupyter.deploy.kubernetes.manifests import container_security, pod_security
from scanflow_jupyter.deploy.kubernetes.names import app_labels
from scanflow_jupyter.errors import (
    BackendError,
    BackendUnavailableError,
    KubernetesForbiddenError,
    MissingSecretError,
)

from .conftest import TEST_IMAGE, ClusterCase, add_namespace
from .fakeapi import FakeAPI


def config_map(name: str, namespace: str, labels: dict[str, str], **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": data,
    }


def shell_job(name: str, namespace: str, script: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Job running ``sh -c SCRIPT`` as a non-root user (the stand-in reads the script; a cluster runs it)."""
    container = {
        "name": "main",
        "image": TEST_IMAGE,
        "command": ["sh", "-c", script],
        "securityContext": container_security(),
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "50m", "memory": "32Mi"}},
    }
    pod = {"restartPolicy": "Never", "securityContext": pod_security(), "containers": [container]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": labels}, "spec": pod}},
    }


def impersonating(cluster: Cluster, user: str) -> Cluster:
    """The same cluster, acting as ``user`` (a user no Role allows anything)."""
    from kubernetes import client

    api = client.ApiClient(cluster.api_client.configuration)
    api.set_default_header("Impersonate-User", user)
    return Cluster(api, source=f"{cluster.source} as {user}")


# -- on the stand-in and on a real cluster -------------------------------------------------------------
def test_apply_creates_then_updates_in_place(case: ClusterCase) -> None:
    c, ns = case.cluster, case.namespace
    labels = app_labels("alpha", "config")
    first = c.apply(config_map("settings", ns, labels, mode="fast"))
    second = c.apply(config_map("settings", ns, labels, mode="slow"))
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert c.get("ConfigMap", "settings", ns)["data"] == {"mode": "slow"}
    found = c.list_objects("ConfigMap", ns, "app.kubernetes.io/part-of=alpha")
    assert [o["metadata"]["name"] for o in found] == ["settings"]
    assert c.get("ConfigMap", "nothing-here", ns) is None
    assert c.delete("ConfigMap", "settings", ns) is True
    assert c.delete("ConfigMap", "settings", ns) is False


def test_a_job_is_watched_to_its_end_and_its_pod_logs_read(case: ClusterCase) -> None:
    c, ns = case.cluster, case.namespace
    labels = app_labels("alpha", "step", node="probe")
    c.create(shell_job("probe", ns, "echo hello from scanflow; sleep 1; exit 3", labels))
    conditions: list[dict[str, Any]] = []
    deadline = time.monotonic() + 180
    while not conditions and time.monotonic() < deadline:
        for _kind, job in c.watch("Job", ns, field="metadata.name=probe", timeout=10):
            conditions = [x for x in (job.get("status") or {}).get("conditions") or [] if x["status"] == "True"]
            if conditions:
                break
    assert [x["type"] for x in conditions][-1] == "Failed"
    (pod,) = c.list_objects("Pod", ns, "app.kubernetes.io/part-of=alpha")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    assert c.logs(pod["metadata"]["name"], ns).splitlines() == ["hello from scanflow"]
    assert b"".join(c.follow_logs(pod["metadata"]["name"], ns)) == b"hello from scanflow\n"
    assert c.delete("Job", "probe", ns)


def test_removal_is_scoped_to_the_application(case: ClusterCase) -> None:
    c, ns = case.cluster, case.namespace
    c.apply(config_map("alpha-spec", ns, app_labels("alpha", "config")))
    c.apply(config_map("beta-spec", ns, app_labels("beta", "config")))
    c.apply(config_map("someone-elses", ns, {"team": "ml"}))
    from scanflow_jupyter.workflow import Application, Executor, Workflow

    alpha = Application(name="alpha", workflows=[Workflow(name="main", nodes=[Executor(name="a", script="a.py")])])
    deployment = KubernetesApp(alpha, namespace=ns, cluster=c, tag="t")
    assert [o.name for o in deployment.status().objects] == ["alpha-spec"]
    gone = deployment.cleanup()
    assert [(o.kind, o.name) for o in gone.objects] == [("ConfigMap", "alpha-spec")]
    left = sorted(
        o["metadata"]["name"] for o in c.list_objects("ConfigMap", ns) if o["metadata"]["name"] != "kube-root-ca.crt"
    )
    assert left == ["beta-spec", "someone-elses"]
    assert c.get("Namespace", ns) is not None  # a given namespace is never deleted


def test_a_forbidden_namespace_is_reported_with_the_rbac_error(case: ClusterCase) -> None:
    user = f"system:serviceaccount:{case.namespace}:nobody"
    restricted = impersonating(case.cluster, user)
    with pytest.raises(KubernetesForbiddenError) as info:
        restricted.apply(config_map("x", case.namespace, app_labels("alpha", "config")))
    err = info.value
    assert (err.verb, err.resource, err.namespace) == ("patch", "configmaps", case.namespace)
    text = str(err)
    assert f'User "{user}" cannot patch resource "configmaps"' in text
    assert f"kubectl auth can-i patch configmaps -n {case.namespace}" in text
    assert "--namespace" in text


def test_a_missing_image_pull_secret_is_reported(case: ClusterCase) -> None:
    c, ns = case.cluster, case.namespace
    with pytest.raises(
        MissingSecretError, match=rf"secret 'regcred' does not exist in namespace '{ns}'.*docker-registry"
    ):
        c.check_secrets(["regcred"], ns)
    c.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": ns},
             "type": "Opaque", "stringData": {"k": "not-read-back"}})  # fmt: skip
    c.check_secrets(["regcred"], ns)


def test_a_namespace_that_does_not_exist_is_reported(case: ClusterCase) -> None:
    missing = f"{case.namespace}-missing"
    with pytest.raises(
        BackendError, match=rf"Namespace '{missing}' does not exist.*kubectl create namespace {missing}"
    ):
        case.cluster.apply(config_map("x", missing, {}))


# -- on the stand-in only -------------------------------------------------------------------------------
def test_secrets_are_checked_by_metadata_only(fake: FakeAPI, stand_in: Cluster) -> None:
    add_namespace(fake, "ml")
    fake.put(("secrets", "ml", "regcred"), {"apiVersion": "v1", "kind": "Secret",
             "metadata": {"name": "regcred", "namespace": "ml"}, "data": {"k": "c2VjcmV0"}})  # fmt: skip
    stand_in.check_secrets(["regcred"], "ml")
    assert fake.requests[-1][:2] == ("GET", "/api/v1/namespaces/ml/secrets/regcred")
    assert "as=PartialObjectMetadata" in fake.accepts[-1]
    answer = json.loads(fake.bodies[-1])
    assert answer["kind"] == "PartialObjectMetadata" and "data" not in answer  # the secret's data never came


def test_a_watch_from_a_forgotten_version_lists_again_and_goes_on(fake: FakeAPI, stand_in: Cluster) -> None:
    """410 Gone ("too old resource version"): the watch yields the state it missed, listed again, then the
    changes after it, instead of an error."""
    add_namespace(fake, "ml")
    first = stand_in.apply(config_map("settings", "ml", {}, n="0"))["metadata"]["resourceVersion"]
    stand_in.apply(config_map("settings", "ml", {}, n="1"))
    fake.compact()
    events = stand_in.watch("ConfigMap", "ml", resource_version=first, timeout=30)
    kind, obj = next(events)
    assert (kind, obj["data"]) == ("ADDED", {"n": "1"})
    stand_in.apply(config_map("settings", "ml", {}, n="2"))
    kind, obj = next(events)
    assert (kind, obj["data"]) == ("MODIFIED", {"n": "2"})
    events.close()
    assert fake.expired == [int(first)]


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def test_connect_reads_kubeconfig(fake: FakeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(tmp_path / "config", fake.url)))
    cluster = connect()
    assert cluster.ping()["gitVersion"].startswith("v1.37")
    assert cluster.source == str(tmp_path / "config")


def test_no_kubeconfig_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(
        BackendUnavailableError, match=r"No Kubernetes configuration: .*missing does not exist.*kind get kubeconfig"
    ):
        connect()
    with pytest.raises(BackendUnavailableError, match=r"No kubeconfig at '.*nowhere'"):
        connect(tmp_path / "nowhere")
    (tmp_path / "broken").write_text("clusters: [")
    with pytest.raises(BackendUnavailableError, match=r"The kubeconfig '.*broken' cannot be used"):
        connect(tmp_path / "broken")


def test_an_unreachable_cluster_is_reported(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        BackendUnavailableError, match=rf"cluster at http://127.0.0.1:{port} did not answer.*cluster-info"
    ):
        connect(_kubeconfig(tmp_path / "config", f"http://127.0.0.1:{port}"), timeout=2)


@pytest.mark.parametrize("server", ["hangs-up", "silent"])
def test_a_cluster_that_does_not_answer_is_tried_twice_then_reported(tmp_path: Path, server: str) -> None:
    """An unreachable cluster is reported after one retry (not the client's three, with backoff), and a
    silent one after the request's timeout (else connect would wait for ever): a listener that hangs up at
    once, or never answers, counts the attempts."""
    attempts: list[socket.socket] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except TimeoutError:
                continue
            attempts.append(conn)
            if server == "hangs-up":
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(BackendUnavailableError, match=rf"cluster at http://127.0.0.1:{port} did not answer"):
            connect(_kubeconfig(tmp_path / "config", f"http://127.0.0.1:{port}"), timeout=1)
    finally:
        stop.set()
        thread.join(10)
        listener.setblocking(False)  # count connections the kernel took that the thread had not accepted yet
        with contextlib.suppress(BlockingIOError):
            while True:
                attempts.append(listener.accept()[0])
        listener.close()
        for conn in attempts:
            conn.close()
    assert len(attempts) == 2  # the request and its one retry


def test_a_cluster_without_argo_is_reported(tmp_path: Path, tabular_app: Any) -> None:
    fake = FakeAPI(argo=False).start()
    try:
        add_namespace(fake, "scanflow-tabular")
        from .conftest import stand_in_cluster

        deployment = KubernetesApp(tabular_app, tag="t", cluster=stand_in_cluster(fake))
        with pytest.raises(BackendError, match=r"Argo Workflows is not installed.*engine='jobs'"):
            deployment.submit("pipeline")
    finally:
        fake.stop()


def test_an_invalid_object_is_reported_with_the_servers_causes(fake: FakeAPI, stand_in: Cluster) -> None:
    add_namespace(fake, "ml")
    with pytest.raises(BackendError, match=r"rejected ConfigMap 'x{300}' .* as invalid: .*must be no more than 253"):
        stand_in.apply(config_map("x" * 300, "ml", {}))


def test_a_body_the_client_refuses_is_reported_by_field(fake: FakeAPI, stand_in: Cluster) -> None:
    """The official client checks a typed call's body against its models before sending it: its refusal is a
    BackendError naming each field, not the client's own exception."""
    add_namespace(fake, "ml")
    job = shell_job("probe", "ml", "echo hi", {})
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    field = re.escape("spec.template.spec.containers[0].imagePullPolicyy")
    refused = rf"refused to create Job 'probe' in namespace 'ml', before sending it: {field}: Extra inputs are not"
    with pytest.raises(BackendError, match=refused):
        stand_in.create(job)
    assert not [r for r in fake.requests if r[0] == "POST"]


def test_a_run_into_a_missing_namespace_is_not_blamed_on_argo(
    fake: FakeAPI, stand_in: Cluster, tabular_app: Any
) -> None:
    """The server answers 404 for a namespace that is not there, on workflows.argoproj.io too: the message
    names the namespace (deploy first), not a missing Argo."""
    deployment = KubernetesApp(tabular_app, tag="t", cluster=stand_in)
    with pytest.raises(BackendError, match=r"Namespace 'scanflow-tabular' does not exist.*scanflow deploy") as info:
        deployment.submit("pipeline")
    assert "Argo" not in str(info.value)
