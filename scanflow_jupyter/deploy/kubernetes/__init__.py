"""The Kubernetes backend: an application's namespace, least-privilege RBAC, volumes, spec and MLflow tracker;
batch workflows as one Argo Workflow or as Jobs driven by the engine's scheduler; online services with an
optional autoscaler; status, logs, cancel and removal by label; and ``scanflow export --to kubernetes``.

The kubernetes client is imported lazily: importing this package does not load it.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False

if TYPE_CHECKING:
    from .app import KubernetesApp
    from .argo import argo_workflow
    from .backend import KubernetesBackend
    from .client import Cluster, connect
    from .manifests import KubeOptions

_LAZY = {
    "KubernetesApp": "app",
    "argo_workflow": "argo",
    "KubernetesBackend": "backend",
    "Cluster": "client",
    "connect": "client",
    "KubeOptions": "manifests",
}

__all__ = [
    "Cluster",
    "KubeOptions",
    "KubernetesApp",
    "KubernetesBackend",
    "argo_workflow",
    "connect",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scanflow_jupyter.deploy.kubernetes' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
