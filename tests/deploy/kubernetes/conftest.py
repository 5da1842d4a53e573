"""Fixtures of the Kubernetes tests: the local stand-in of the API server, a real cluster when KUBECONFIG is
set (tests marked ``k8s``), the example application, and the schemas (from schemas.py: official Kubernetes
schemas from kubernetes-validate, Argo's Workflow schema vendored in data/)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..conftest import copy_tabular, with_service
from .fakeapi import FakeAPI
from .schemas import K8S_VERSIONS, argo_validator, k8s_validate

__all__ = ["K8S_VERSIONS", "argo_validator", "k8s_validate"]  # the schemas, as the test modules import them

GOLDEN = Path(__file__).parent / "golden"
TEST_IMAGE = os.environ.get("SCANFLOW_K8S_TEST_IMAGE", "busybox:1.36")


@dataclass
class ClusterCase:
    """A cluster to test against: its connection, a namespace of the test's own, and the stand-in (None
    on a real cluster)."""

    cluster: Any
    namespace: str
    fake: FakeAPI | None

    @property
    def real(self) -> bool:
        return self.fake is None


def stand_in_cluster(fake: FakeAPI) -> Any:
    from kubernetes import client

    from scanflow_jupyter.deploy.kubernetes.client import Cluster

    cfg = client.Configuration()
    cfg.host = fake.url
    cfg.retries = 0
    return Cluster(client.ApiClient(cfg), source="the stand-in")


def add_namespace(fake: FakeAPI, name: str, labels: dict[str, str] | None = None) -> None:
    fake.put(("namespaces", "", name), {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": name, "labels": labels or {}}})  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    api = FakeAPI().start()
    yield api
    api.stop()


@pytest.fixture
def stand_in(fake: FakeAPI) -> Any:
    return stand_in_cluster(fake)


def _real_cluster() -> ClusterCase:
    if not os.environ.get("KUBECONFIG"):
        pytest.skip("KUBECONFIG is not set: the k8s-marked tests need a live cluster (see README, 'Kubernetes')")
    from scanflow_jupyter.deploy.kubernetes.client import connect

    cluster = connect()
    namespace = f"scanflow-test-{secrets.token_hex(3)}"
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace,
                   "labels": {"scanflow.io/test": "true"}}})  # fmt: skip
    return ClusterCase(cluster, namespace, None)


@pytest.fixture(params=["stand-in", pytest.param("cluster", marks=pytest.mark.k8s)])
def case(request: pytest.FixtureRequest) -> Iterator[ClusterCase]:
    """The same test on the stand-in, and (marker ``k8s``) on the cluster of KUBECONFIG."""
    if request.param == "stand-in":
        api = FakeAPI().start()
        namespace = "scanflow-test"
        add_namespace(api, namespace)
        yield ClusterCase(stand_in_cluster(api), namespace, api)
        api.stop()
        return
    found = _real_cluster()
    yield found
    found.cluster.delete("Namespace", found.namespace)


@pytest.fixture
def tabular_app(tmp_path: Path) -> Any:
    """examples/tabular with an online service ``predictor`` added."""
    from scanflow_jupyter.workflow import load

    return with_service(load(copy_tabular(tmp_path / "tabular")))
