"""The cluster connection: the official ``kubernetes`` client, with every call this backend makes and the
API server's refusals turned into errors a person can act on.

Objects travel as plain dicts in the API's shape. Typed calls (``create_namespaced_job``...) still check
them against the client's models on the way out, which refuse unknown fields (a ``BackendError`` naming
each). ``apply`` is a server-side apply (``kubectl apply --server-side``): one request creates or updates,
and fields another manager owns are left alone. A watch that expired (410 Gone) lists again and goes on.

The ``kubernetes`` package is imported here, lazily, when a cluster is first needed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ...errors import BackendError, BackendUnavailableError, KubernetesForbiddenError, MissingSecretError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

FIELD_MANAGER = "scanflow-jupyter"
APPLY_PATCH = "application/apply-patch+yaml"
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
GONE = 410  # a watch from a resource version the server no longer keeps
ARGO_INSTALL_HINT = (
    "Install Argo Workflows (see https://argo-workflows.readthedocs.io/en/latest/quick-start/: create the 'argo' "
    "namespace and apply the release's install.yaml), or run the workflow as plain Jobs (engine='jobs', "
    "'--engine jobs')."
)


@dataclass(frozen=True)
class Kind:
    """How the API serves one kind: the typed client class, its method suffix, and its REST names."""

    api: str
    suffix: str
    plural: str
    group: str = ""
    namespaced: bool = True

    @property
    def resource(self) -> str:
        """``jobs.batch``, ``pods``: as RBAC and ``kubectl auth can-i`` name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


KINDS: dict[str, Kind] = {
    "Namespace": Kind("CoreV1Api", "namespace", "namespaces", namespaced=False),
    "ServiceAccount": Kind("CoreV1Api", "service_account", "serviceaccounts"),
    "ConfigMap": Kind("CoreV1Api", "config_map", "configmaps"),
    "PersistentVolumeClaim": Kind("CoreV1Api", "persistent_volume_claim", "persistentvolumeclaims"),
    "Service": Kind("CoreV1Api", "service", "services"),
    "Pod": Kind("CoreV1Api", "pod", "pods"),
    "Secret": Kind("CoreV1Api", "secret", "secrets"),
    "Role": Kind("RbacAuthorizationV1Api", "role", "roles", "rbac.authorization.k8s.io"),
    "RoleBinding": Kind("RbacAuthorizationV1Api", "role_binding", "rolebindings", "rbac.authorization.k8s.io"),
    "Deployment": Kind("AppsV1Api", "deployment", "deployments", "apps"),
    "Job": Kind("BatchV1Api", "job", "jobs", "batch"),
    "HorizontalPodAutoscaler": Kind(
        "AutoscalingV2Api", "horizontal_pod_autoscaler", "horizontalpodautoscalers", "autoscaling"
    ),
    "NetworkPolicy": Kind("NetworkingV1Api", "network_policy", "networkpolicies", "networking.k8s.io"),
    "Workflow": Kind("CustomObjectsApi", "custom_object", "workflows", "argoproj.io"),
}
# What removal deletes, dependants first; a namespace we created goes last, with whatever is left in it.
REMOVAL_ORDER = (
    "Workflow",
    "Job",
    "HorizontalPodAutoscaler",
    "Deployment",
    "Service",
    "Pod",
    "ConfigMap",
    "PersistentVolumeClaim",
    "NetworkPolicy",
    "RoleBinding",
    "Role",
    "ServiceAccount",
)


def kubeconfig_path(explicit: str | Path | None = None) -> Path | None:
    """The kubeconfig file to read: ``explicit``, else the first of ``KUBECONFIG``, else ``~/.kube/config``;
    None when that file does not exist."""
    if explicit is not None:
        path = Path(explicit).expanduser()
    else:
        env = os.environ.get("KUBECONFIG", "")
        first = next((p for p in env.split(os.pathsep) if p), "")
        path = Path(first).expanduser() if first else Path.home() / ".kube" / "config"
    return path if path.is_file() else None


NO_CONFIG_HINT = (
    "Point KUBECONFIG at your cluster's kubeconfig (kind: 'kind get kubeconfig > ~/.kube/config'; k3s: "
    "'export KUBECONFIG=/etc/rancher/k3s/k3s.yaml'), or pass kubeconfig=... / --kubeconfig."
)


def connect(kubeconfig: str | Path | None = None, context: str | None = None, timeout: float = 10.0) -> Cluster:
    """A connection to the cluster of ``kubeconfig`` (or ``KUBECONFIG``, ``~/.kube/config``, or the pod's
    own service account inside a cluster), checked with a ``/version`` request.

    Raises
    ------
    BackendUnavailableError
        No kubeconfig, an unusable one, or a cluster that does not answer; the message says which and how to
        fix it.
    """
    try:
        from kubernetes import client, config
    except ImportError:  # pragma: no cover - kubernetes is a dependency
        raise BackendUnavailableError(
            "The kubernetes Python package is missing: 'pip install kubernetes' (it is a dependency of "
            "scanflow-jupyter, so reinstalling scanflow-jupyter brings it)."
        ) from None
    cfg = client.Configuration()
    path = kubeconfig_path(kubeconfig)
    if path is not None:
        try:
            config.load_kube_config(config_file=str(path), context=context, client_configuration=cfg)
        except (config.ConfigException, OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise BackendUnavailableError(
                f"The kubeconfig {str(path)!r} cannot be used: {_first_line(exc)}. Check the file and its "
                "context (kubectl config get-contexts)."
            ) from None
        where = str(path)
    else:
        if kubeconfig is not None:
            raise BackendUnavailableError(f"No kubeconfig at {str(kubeconfig)!r}. {NO_CONFIG_HINT}")
        try:
            config.load_incluster_config(client_configuration=cfg)
        except config.ConfigException:
            wanted = os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise BackendUnavailableError(
                f"No Kubernetes configuration: {wanted} does not exist and this is not a pod in a cluster. "
                + NO_CONFIG_HINT
            ) from None
        where = "the in-cluster service account"
    cfg.retries = 1  # an unreachable cluster is reported in seconds, not after minutes of retries
    cluster = Cluster(client.ApiClient(cfg), source=where)
    cluster.ping(timeout)
    return cluster


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def model_problems(exc: BaseException) -> list[str]:
    """``field: problem`` for each error of a pydantic ``ValidationError`` the client raised for a body
    (``spec.template.spec.containers[0].name: Field required``); empty for any other error."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return []
    try:
        found = errors(include_url=False, include_input=False)
    except TypeError:
        return []
    out = []
    for error in found:
        loc = list(error.get("loc") or ())
        if loc and isinstance(loc[0], int):  # the argument's position in the call, not a field
            loc = loc[1:]
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        out.append(f"{field or 'the body'}: {error.get('msg', '')}")
    return out


def status_of(exc: Any) -> dict[str, Any]:
    """The ``Status`` object the API server sent with an error (empty if it sent none)."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.strip().startswith("{"):
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}
    return {}


class Cluster:
    """One cluster, through the official client. Build it with :func:`connect` (or from any configured
    ``kubernetes.client.ApiClient``, as the tests do with a local stand-in of the API server)."""

    def __init__(self, api_client: ApiClient, source: str = "") -> None:
        self.api_client = api_client
        self.source = source
        self._apis: dict[str, Any] = {}

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def _api(self, name: str) -> Any:
        if name not in self._apis:
            from kubernetes import client

            self._apis[name] = getattr(client, name)(self.api_client)
        return self._apis[name]

    # -- errors ------------------------------------------------------------------------------------
    def _translate(
        self, exc: Exception, verb: str, kind: str, name: str = "", namespace: str | None = None
    ) -> Exception:
        """A ScanflowError for a failed request (the caller raises it ``from None``)."""
        from kubernetes.client.exceptions import ApiException

        if not isinstance(exc, ApiException):
            return BackendUnavailableError(
                f"The cluster at {self.host} did not answer ({_first_line(exc)}). Is it running? Check with "
                "'kubectl cluster-info' (kind: 'kind get clusters'; k3s: 'systemctl status k3s')."
            )
        status = status_of(exc)
        message = str(status.get("message") or exc.reason or "")
        info = KINDS.get(kind)
        resource = info.resource if info else kind.lower()
        what = f"{kind} {name!r}" if name else f"{resource}"
        where = f" in namespace {namespace!r}" if namespace else ""
        code = exc.status
        if code == 403:
            check = f"kubectl auth can-i {verb} {resource}" + (f" -n {namespace}" if namespace else "")
            return KubernetesForbiddenError(
                f"The cluster refused to {verb} {what}{where}: {message or 'Forbidden'}. Ask a cluster "
                f"administrator for a Role (a ClusterRole, for namespaces) allowing '{verb}' on '{resource}'"
                f"{where} (check with '{check}'), or deploy to a namespace you may use (namespace=... / "
                "--namespace).",
                verb,
                resource,
                namespace or "",
            )
        if code == 401:
            return BackendUnavailableError(
                f"The cluster at {self.host} rejected the credentials of {self.source or 'the kubeconfig'} "
                f"({message or 'Unauthorized'}). Log in again or refresh the kubeconfig's token."
            )
        # A missing namespace first: the server answers 404 for it too, also on workflows.argoproj.io.
        if code == 404 and (kind == "Namespace" or ("namespaces" in message and "not found" in message)):
            missing = namespace or name
            return BackendError(
                f"Namespace {missing!r} does not exist on the cluster. Deploy the application first ('scanflow "
                f"deploy APP --to kubernetes' or KubernetesApp.start() creates its namespace, RBAC, volumes and "
                f"tracker), or create it ('kubectl create namespace {missing}') when you chose it yourself."
            )
        if code == 404 and kind == "Workflow" and not name:
            return BackendError(
                f"Argo Workflows is not installed on this cluster: it serves no workflows.argoproj.io "
                f"resource{where}. {ARGO_INSTALL_HINT}"
            )
        if code == 422:
            causes = [c.get("message", "") for c in (status.get("details") or {}).get("causes", [])]
            detail = "; ".join(c for c in causes if c) or message
            return BackendError(f"The cluster rejected {what}{where} as invalid: {detail}")
        return BackendError(f"Could not {verb} {what}{where}: HTTP {code} {message or exc.reason}")

    def _call(self, verb: str, kind: str, name: str, namespace: str | None, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn(*args, **kwargs)
        except (ApiException, HTTPError, OSError) as exc:
            raise self._translate(exc, verb, kind, name, namespace) from None
        except ValueError as exc:  # the client's own check of a body against its models (pydantic)
            problems = model_problems(exc)
            if not problems:
                raise
            what = f"{kind} {name!r}" if name else kind
            where = f" in namespace {namespace!r}" if namespace else ""
            raise BackendError(
                f"The kubernetes client refused to {verb} {what}{where}, before sending it: {'; '.join(problems)}. "
                "The object has a field the Kubernetes API does not know, or a value of the wrong type."
            ) from None

    @staticmethod
    def _json(response: Any) -> dict[str, Any]:
        data = response.data if hasattr(response, "data") else response
        return dict(json.loads(data)) if data else {}

    def _method(self, verb: str, kind: str) -> tuple[Kind, Any]:
        info = KINDS[kind]
        api = self._api(info.api)
        scope = "_namespaced_" if info.namespaced else "_"
        return info, getattr(api, f"{verb}{scope}{info.suffix}")

    # -- calls -------------------------------------------------------------------------------------
    def ping(self, timeout: float = 10.0) -> dict[str, Any]:
        """The server's version (``{"gitVersion": "v1.33.1", ...}``); raises when it does not answer."""
        api = self._api("VersionApi")
        return self._json(
            self._call("reach", "Version", "", None, api.get_code, _preload_content=False, _request_timeout=timeout)
        )

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or update ``obj`` by server-side apply; returns the object as the server stored it."""
        kind, meta = obj["kind"], obj["metadata"]
        name, ns = meta["name"], meta.get("namespace")
        if kind == "Workflow":
            raise BackendError("Argo Workflows are created (each submission is a run), not applied: use create().")
        info, method = self._method("patch", kind)
        args = [name, ns, obj] if info.namespaced else [name, obj]
        response = self._call(
            "patch",
            kind,
            name,
            ns,
            method,
            *args,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY_PATCH,
            _preload_content=False,
        )
        return self._json(response)

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create ``obj`` (a Job, an Argo Workflow: each is one run); returns it as stored (with the name a
        ``generateName`` was given)."""
        kind, meta = obj["kind"], obj["metadata"]
        ns = meta.get("namespace")
        name = meta.get("name") or meta.get("generateName", "")
        if kind == "Workflow":
            api = self._api("CustomObjectsApi")
            response = self._call(
                "create", kind, "", ns, api.create_namespaced_custom_object,
                "argoproj.io", "v1alpha1", ns, "workflows", obj, _preload_content=False,
            )  # fmt: skip
            return self._json(response)
        info, method = self._method("create", kind)
        args = [ns, obj] if info.namespaced else [obj]
        return self._json(self._call("create", kind, name, ns, method, *args, _preload_content=False))

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when there is none."""
        from kubernetes.client.exceptions import ApiException

        try:
            if kind == "Workflow":
                api = self._api("CustomObjectsApi")
                response = api.get_namespaced_custom_object(
                    "argoproj.io", "v1alpha1", namespace, "workflows", name, _preload_content=False
                )
            else:
                info, method = self._method("read", kind)
                args = [name, namespace] if info.namespaced else [name]
                response = method(*args, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise self._translate(exc, "get", kind, name, namespace) from None
        except Exception as exc:
            raise self._translate(exc, "get", kind, name, namespace) from None
        return self._json(response)

    def list_objects(
        self, kind: str, namespace: str, selector: str | None = None, field: str | None = None
    ) -> list[dict[str, Any]]:
        """The objects of ``kind`` in ``namespace`` matching the label ``selector`` (and ``field`` selector)."""
        return list(self.list_full(kind, namespace, selector, field).get("items", []))

    def list_full(
        self, kind: str, namespace: str, selector: str | None = None, field: str | None = None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"_preload_content": False}
        if selector:
            kwargs["label_selector"] = selector
        if field:
            kwargs["field_selector"] = field
        if kind == "Workflow":
            api = self._api("CustomObjectsApi")
            return self._json(
                self._call("list", kind, "", namespace, api.list_namespaced_custom_object,
                           "argoproj.io", "v1alpha1", namespace, "workflows", **kwargs)
            )  # fmt: skip
        info, method = self._method("list", kind)
        args = [namespace] if info.namespaced else []
        return self._json(self._call("list", kind, "", namespace, method, *args, **kwargs))

    def delete(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete one object and what it owns (its pods, for a Job); False when it was already gone."""
        from kubernetes.client.exceptions import ApiException

        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        try:
            if kind == "Workflow":
                api = self._api("CustomObjectsApi")
                api.delete_namespaced_custom_object(
                    "argoproj.io", "v1alpha1", namespace, "workflows", name, body=body, _preload_content=False
                )
            else:
                info, method = self._method("delete", kind)
                args = [name, namespace] if info.namespaced else [name]
                method(*args, body=body, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise self._translate(exc, "delete", kind, name, namespace) from None
        except Exception as exc:
            raise self._translate(exc, "delete", kind, name, namespace) from None
        return True

    def watch(
        self,
        kind: str,
        namespace: str,
        *,
        selector: str | None = None,
        field: str | None = None,
        timeout: float = 60.0,
        resource_version: str | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(event type, object)`` for each change of the matching objects, for at most ``timeout``
        seconds (the server ends the watch then; the caller watches again if it needs more).

        Watching from ``resource_version`` replays the changes since then. When the server no longer keeps
        them (``410 Gone``: "too old resource version"), the objects are listed again, each is yielded as
        ``ADDED`` with its current state, and the watch goes on from the list's version: a caller sees the
        state it missed, never an error. An object deleted meanwhile is simply absent from that list.
        """
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        end = time.monotonic() + timeout
        base: dict[str, Any] = {}
        if selector:
            base["label_selector"] = selector
        if field:
            base["field_selector"] = field
        if kind == "Workflow":
            api = self._api("CustomObjectsApi")
            func, args = api.list_namespaced_custom_object, ["argoproj.io", "v1alpha1", namespace, "workflows"]
        else:
            _info, func = self._method("list", kind)
            args = [namespace]
        since = resource_version
        while True:
            left = end - time.monotonic()
            kwargs = {**base, "timeout_seconds": max(1, int(left)), "_request_timeout": max(1.0, left) + 10}
            if since:
                kwargs["resource_version"] = since
            w = watch.Watch()
            events = self._call("watch", kind, "", namespace, w.stream, func, *args, **kwargs)
            try:
                while True:
                    try:
                        event = next(events)
                    except StopIteration:
                        return
                    except ApiException as exc:
                        if exc.status != GONE:
                            raise self._translate(exc, "watch", kind, "", namespace) from None
                        break  # the changes since ``since`` are gone: list again, below
                    except Exception as exc:
                        raise self._translate(exc, "watch", kind, "", namespace) from None
                    yield str(event["type"]), dict(event["raw_object"])
            finally:
                w.stop()
            listed = self.list_full(kind, namespace, selector, field)
            for obj in listed.get("items") or []:
                yield "ADDED", dict(obj)
            since = str((listed.get("metadata") or {}).get("resourceVersion") or "") or None
            if time.monotonic() >= end:
                return

    def logs(self, pod: str, namespace: str, container: str | None = None, tail: int | None = None) -> str:
        """What the pod's container wrote (stdout and stderr, interleaved as the runtime keeps them)."""
        api = self._api("CoreV1Api")
        kwargs: dict[str, Any] = {"_preload_content": False}
        if container:
            kwargs["container"] = container
        if tail is not None:
            kwargs["tail_lines"] = tail
        response = self._call(
            "get", "Pod", f"{pod}/log", namespace, api.read_namespaced_pod_log, pod, namespace, **kwargs
        )
        return bytes(response.data).decode("utf-8", "replace")

    def follow_logs(self, pod: str, namespace: str, container: str | None = None) -> Iterator[bytes]:
        """The pod's output as it comes, until the container ends (chunks of bytes)."""
        api = self._api("CoreV1Api")
        kwargs: dict[str, Any] = {"follow": True, "_preload_content": False}
        if container:
            kwargs["container"] = container
        response = self._call(
            "get", "Pod", f"{pod}/log", namespace, api.read_namespaced_pod_log, pod, namespace, **kwargs
        )
        try:
            yield from response.stream(amt=4096, decode_content=False)
        finally:
            response.release_conn()

    def secret_exists(self, name: str, namespace: str) -> bool | None:
        """Whether Secret ``name`` exists, asking for its metadata only (its data never crosses the wire);
        None when we may not look."""
        from kubernetes.client.exceptions import ApiException

        api = self._api("CoreV1Api")
        try:
            api.read_namespaced_secret(name, namespace, _preload_content=False, _headers={"Accept": METADATA_ONLY})
        except ApiException as exc:
            if exc.status == 404:
                return False
            if exc.status == 403:
                return None
            raise self._translate(exc, "get", "Secret", name, namespace) from None
        except Exception as exc:
            raise self._translate(exc, "get", "Secret", name, namespace) from None
        return True

    def check_secrets(self, names: Iterable[str], namespace: str, purpose: str = "image pull") -> None:
        """Raise ``MissingSecretError`` for the first of ``names`` missing from ``namespace``."""
        for name in names:
            if self.secret_exists(name, namespace) is False:
                raise MissingSecretError(
                    f"The {purpose} secret {name!r} does not exist in namespace {namespace!r}, so pods could not "
                    f"pull their images. Create it first: kubectl -n {namespace} create secret docker-registry "
                    f"{name} --docker-server=REGISTRY --docker-username=USER --docker-password=... (or drop it "
                    "from image_pull_secrets / --image-pull-secret)."
                )
