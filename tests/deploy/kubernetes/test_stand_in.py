"""The stand-in of the API server is only worth its tests if it refuses what a cluster refuses: every object it
receives (create, replace, server-side apply, merge patch, delete options) is checked against the official
schemas, and a watch from a resource version it no longer keeps gets 410 Gone. These tests go through the
official client, as the backend does, except where its own checks would refuse the body before sending it (its
typed calls check bodies against its models): there they send the request as it is.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from typing import Any

import pytest

from scanflow_jupyter.deploy.kubernetes.client import Cluster
from scanflow_jupyter.errors import BackendError

from .conftest import add_namespace
from .fakeapi import FakeAPI
from .test_cluster import config_map, shell_job

NS = "ml"


def workflow(name: str) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo hi"]}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": container}]},
    }


def job(**container: Any) -> dict[str, Any]:
    body = shell_job("probe", NS, "echo hi", {"app": "x"})
    body["spec"]["template"]["spec"]["containers"][0].update(container)
    return body


def without_name() -> dict[str, Any]:
    body = job()
    del body["spec"]["template"]["spec"]["containers"][0]["name"]
    return body


def misspelt_workflow() -> dict[str, Any]:
    body = workflow("wf")
    body["spec"]["templates"][0]["retryStratgy"] = {"limit": 1}
    return body


def status_of_last_answer(fake: FakeAPI) -> dict[str, Any]:
    return dict(json.loads(fake.bodies[-1]))


@pytest.fixture
def ml(fake: FakeAPI) -> FakeAPI:
    add_namespace(fake, NS)
    return fake


# -- objects the schemas refuse ----------------------------------------------------------------------------
QUALIFIED = {"configmaps": "ConfigMap", "jobs": "Job.batch", "workflows": "Workflow.argoproj.io"}


@pytest.mark.parametrize(
    ("verb", "body", "key", "field", "reason", "message"),
    [
        pytest.param(
            "apply", config_map("settings", NS, {}, mode="fast") | {"data": {"retries": 3}},
            ("configmaps", NS, "settings"), "data.retries", "FieldValueTypeInvalid",
            "3 is not of type 'string', 'null'", id="wrong-type",
        ),
        pytest.param(
            "apply", job(imagePullPolicyy="Always"), ("jobs", NS, "probe"),
            "spec.template.spec.containers[0].imagePullPolicyy", "FieldValueUnknown",
            "Additional properties are not allowed ('imagePullPolicyy' was unexpected)", id="unknown-field",
        ),
        pytest.param(
            "apply", without_name(), ("jobs", NS, "probe"), "spec.template.spec.containers[0].name",
            "FieldValueRequired", "'name' is a required property", id="missing-field",
        ),
        pytest.param(
            "create", misspelt_workflow(), ("workflows", NS, "wf"), "spec.templates[0].retryStratgy",
            "FieldValueUnknown", "Additional properties are not allowed ('retryStratgy' was unexpected)",
            id="argo-workflow",
        ),
    ],
)  # fmt: skip
def test_an_object_the_schema_refuses_is_refused_with_the_schemas_words(
    ml: FakeAPI,
    stand_in: Cluster,
    verb: str,
    body: dict[str, Any],
    key: tuple[str, str, str],
    field: str,
    reason: str,
    message: str,
) -> None:
    with pytest.raises(BackendError, match=rf"rejected .* as invalid: {re.escape(f'{field}: {message}')}"):
        getattr(stand_in, verb)(body)
    assert ml.get(key) is None  # nothing was stored
    status = status_of_last_answer(ml)
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 422, "Invalid")
    assert status["message"] == f'{QUALIFIED[key[0]]} "{key[2]}" is invalid: {field}: {message}'
    assert status["details"]["causes"] == [{"reason": reason, "field": field, "message": f"{field}: {message}"}]


def test_every_problem_is_listed_at_once(ml: FakeAPI, stand_in: Cluster) -> None:
    body = job(imagePullPolicyy="Always", ports=[{"containerPort": "80"}])
    with pytest.raises(BackendError) as info:
        stand_in.apply(body)
    status = status_of_last_answer(ml)
    fields = [c["field"] for c in status["details"]["causes"]]
    assert fields == [
        "spec.template.spec.containers[0].imagePullPolicyy",
        "spec.template.spec.containers[0].ports[0].containerPort",
    ]
    assert status["message"].startswith('Job.batch "probe" is invalid: [spec.template.spec.containers[0].imageP')
    assert "'80' is not of type 'integer'" in str(info.value)


def test_a_merge_patch_is_checked_as_the_object_it_makes(ml: FakeAPI, stand_in: Cluster) -> None:
    """A misspelt ``shutdown`` would leave a workflow running that the user believes stopped."""
    stand_in.create(workflow("wf"))
    from kubernetes import client

    api = client.CustomObjectsApi(stand_in.api_client)
    with pytest.raises(client.ApiException) as info:
        api.patch_namespaced_custom_object(
            "argoproj.io", "v1alpha1", NS, "workflows", "wf", {"spec": {"shutdwn": "Terminate"}},
            _content_type="application/merge-patch+json",
        )  # fmt: skip
    assert info.value.status == 422
    assert "spec.shutdwn: Additional properties are not allowed ('shutdwn' was unexpected)" in str(info.value.body)
    after = ml.get(("workflows", NS, "wf"))
    assert after is not None and "shutdwn" not in after["spec"]


def send(fake: FakeAPI, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """The stand-in's answer to a request sent as it is (code, JSON body)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{fake.url}{path}", json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(json.loads(answer.read()))
    except urllib.error.HTTPError as exc:
        return exc.code, dict(json.loads(exc.read()))


def test_a_replace_is_checked_and_refused_when_stale(ml: FakeAPI, stand_in: Cluster) -> None:
    path = f"/api/v1/namespaces/{NS}/configmaps/settings"
    stored = stand_in.apply(config_map("settings", NS, {}, mode="fast"))
    code, answer = send(ml, "PUT", path, copy.deepcopy(stored) | {"data": {"mode": ["fast"]}})
    assert (code, answer["reason"]) == (422, "Invalid")
    expected = "data.mode: ['fast'] is not of type 'string', 'null'"
    assert answer["message"] == f'ConfigMap "settings" is invalid: {expected}'

    good = copy.deepcopy(stored) | {"data": {"mode": "slow"}}
    code, answer = send(ml, "PUT", path, good)
    assert code == 200 and answer["data"] == {"mode": "slow"}
    assert stand_in.get("ConfigMap", "settings", NS)["data"] == {"mode": "slow"}
    code, answer = send(ml, "PUT", path, good)  # ``good`` still carries the version it replaced
    assert (code, answer["reason"]) == (409, "Conflict") and "the object has been modified" in answer["message"]


def test_an_object_of_another_kind_is_a_bad_request(ml: FakeAPI) -> None:
    code, answer = send(ml, "POST", f"/api/v1/namespaces/{NS}/configmaps", shell_job("probe", NS, "echo hi", {}))
    assert (code, answer["reason"]) == (400, "BadRequest")
    assert "(batch/v1, Job) do not match the expected v1, ConfigMap" in answer["message"]
    assert ml.get(("configmaps", NS, "probe")) is None


def test_a_controllers_status_is_not_the_clients_to_write(ml: FakeAPI, stand_in: Cluster) -> None:
    body = job() | {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}
    stand_in.create(body)
    ml.wait_until(lambda: (ml.get(("jobs", NS, "probe")) or {}).get("status", {}).get("active") == 1, "the Job run")
    stored = ml.get(("jobs", NS, "probe"))
    assert stored is not None and "conditions" not in stored["status"]


# -- stale watches -------------------------------------------------------------------------------------
def test_a_watch_from_a_version_the_stand_in_no_longer_keeps_gets_410(ml: FakeAPI, stand_in: Cluster) -> None:
    from kubernetes import client, watch

    ml.max_events = 3  # a short memory: five changes later, the first is forgotten
    first = stand_in.apply(config_map("settings", NS, {}, n="0"))["metadata"]["resourceVersion"]
    for n in range(1, 5):
        stand_in.apply(config_map("settings", NS, {}, n=str(n)))
    api = client.CoreV1Api(stand_in.api_client)
    with pytest.raises(client.ApiException) as info:
        for _event in watch.Watch().stream(api.list_namespaced_config_map, NS, resource_version=first,
                                           timeout_seconds=5):  # fmt: skip
            pass
    assert info.value.status == 410
    assert info.value.reason.startswith(f"Expired: too old resource version: {first} (")
    assert ml.expired == [int(first)]
    # From a version it still keeps, the changes after it are replayed.
    kept = str(ml.events[0][0])
    events = list(watch.Watch().stream(api.list_namespaced_config_map, NS, resource_version=kept, timeout_seconds=1))
    assert [e["object"].data["n"] for e in events] == ["3", "4"]


def test_a_watch_that_falls_behind_a_compaction_gets_410(ml: FakeAPI, stand_in: Cluster) -> None:
    """The changes a running watch had not read yet are forgotten: it ends with an ERROR event (410)."""
    from kubernetes import client, watch

    api = client.CoreV1Api(stand_in.api_client)
    since = stand_in.apply(config_map("settings", NS, {}, n="0"))["metadata"]["resourceVersion"]
    raised: list[BaseException] = []

    def read() -> None:
        try:
            for _event in watch.Watch().stream(api.list_namespaced_config_map, NS, resource_version=since,
                                               timeout_seconds=30):  # fmt: skip
                pass
        except client.ApiException as exc:
            raised.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ml.wait_until(lambda: ml.watching == 1, "the watch open")
    with ml.cond:  # a change and a compaction in one step: the open watch cannot read the change first
        ml.put(("configmaps", NS, "other"), config_map("other", NS, {}))
        ml.compact()
    ml.wait_until(lambda: ml.watching == 0, "the watch end")
    reader.join(10)
    assert [getattr(e, "status", None) for e in raised] == [410] and ml.expired == [int(since)]


def test_delete_options_are_checked_too(ml: FakeAPI, stand_in: Cluster) -> None:
    stand_in.apply(config_map("settings", NS, {}))
    path = f"/api/v1/namespaces/{NS}/configmaps/settings"
    code, answer = send(ml, "DELETE", path, {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": 1})
    assert (code, answer["reason"]) == (400, "BadRequest")
    assert "propagationPolicy: 1 is not of type 'string', 'null'" in answer["message"]
    assert stand_in.get("ConfigMap", "settings", NS) is not None
    assert stand_in.delete("ConfigMap", "settings", NS) is True  # the client's own DeleteOptions pass
