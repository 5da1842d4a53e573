"""A local stand-in for the Kubernetes API server, for tests of the code that talks to a cluster.

A threaded HTTP server on loopback that serves just the REST paths the Kubernetes backend uses, with
Kubernetes-shaped JSON: objects with uids, resource versions and timestamps; lists; watch streams (one JSON
event per line); pod logs (followed or not); create, replace (409 on a stale ``resourceVersion``),
server-side apply and merge patches; ``generateName``; ``Status`` objects for errors (403 Forbidden worded as
the real server words it, 404, 409, 422); and ``PartialObjectMetadata`` for metadata-only reads.

Every object it receives is checked as a cluster checks it: against the official schema of its kind
(schemas.py: kubernetes-validate's strict schemas, Argo's for a Workflow) and the naming rules, answering
422 Invalid with a ``Status`` whose causes name each field and the schema's words; a body of another kind
is a 400. Like a real server it keeps a window of recent changes (``max_events``; ``compact()`` forgets them
all): a watch from an older resource version, or one that falls behind, ends with an ``ERROR`` event
carrying a 410 ``Status`` ("too old resource version"), and the client must list again.

Small controllers play the cluster's part: a Deployment becomes ready, a Job gets a pod that runs its
container's program and ends (``activeDeadlineSeconds`` applies; an image named ``*missing*`` never pulls),
and an Argo Workflow runs its DAG (tasks in order, retries, parameters, ``shutdown: Terminate``).

A container's program is read from its command: ``sh -c "echo TEXT; sleep N; exit N"``, or the scanflow
launcher with a step's ``--sleep S`` and ``--fail true`` options (like tests/conftest.py's ECHO_STEP). With
``release`` cleared, no running program ends: a test holds a step in Running while it acts, then sets it.

Requests that impersonate a user (``Impersonate-User``) are refused, as a cluster refuses a user no Role
allows anything, and so is everything in ``forbidden_namespaces``, and every verb in ``forbidden_verbs`` (a
Role that lacks them).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import shlex
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from .schemas import K8S_VERSIONS, Cause, causes

# plural -> (group, version, kind, namespaced)
RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "namespaces": ("", "v1", "Namespace", False),
    "serviceaccounts": ("", "v1", "ServiceAccount", True),
    "configmaps": ("", "v1", "ConfigMap", True),
    "persistentvolumeclaims": ("", "v1", "PersistentVolumeClaim", True),
    "services": ("", "v1", "Service", True),
    "pods": ("", "v1", "Pod", True),
    "secrets": ("", "v1", "Secret", True),
    "roles": ("rbac.authorization.k8s.io", "v1", "Role", True),
    "rolebindings": ("rbac.authorization.k8s.io", "v1", "RoleBinding", True),
    "deployments": ("apps", "v1", "Deployment", True),
    "jobs": ("batch", "v1", "Job", True),
    "horizontalpodautoscalers": ("autoscaling", "v2", "HorizontalPodAutoscaler", True),
    "networkpolicies": ("networking.k8s.io", "v1", "NetworkPolicy", True),
    "workflows": ("argoproj.io", "v1alpha1", "Workflow", True),
}
# Kinds whose ``status`` their controllers write: a client's write to the object itself never sets it (as on
# a real server, where it goes through the status subresource), so it is kept out of what is validated.
STATUS_OWNED = {"namespaces", "persistentvolumeclaims", "services", "pods", "deployments", "jobs",
                "horizontalpodautoscalers", "workflows"}  # fmt: skip
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ADMIN = "kubernetes-admin"

Key = tuple[str, str, str]  # plural, namespace ("" for cluster-scoped), name


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def _matches(obj: dict[str, Any], labels: str | None, fields: str | None) -> bool:
    have = obj.get("metadata", {}).get("labels") or {}
    for part in filter(None, (labels or "").split(",")):
        if "!=" in part:
            k, v = part.split("!=", 1)
            if have.get(k) == v:
                return False
        elif "=" in part:
            k, v = part.split("=", 1)
            if have.get(k) != v.lstrip("="):
                return False
        elif part not in have:
            return False
    for part in filter(None, (fields or "").split(",")):
        k, v = part.split("=", 1)
        value: Any = obj
        for piece in k.split("."):
            value = value.get(piece) if isinstance(value, dict) else None
        if str(value) != v.lstrip("="):
            return False
    return True


class Program:
    """What a simulated container does: log lines, a duration, an exit code."""

    def __init__(self, lines: list[str], seconds: float, code: int) -> None:
        self.lines, self.seconds, self.code = lines, seconds, code

    @classmethod
    def of(cls, container: dict[str, Any]) -> Program:
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        env = {e["name"]: e.get("value", "") for e in container.get("env") or []}
        if len(argv) >= 3 and argv[0] == "sh" and argv[1] == "-c":
            lines, seconds, code = [], 0.0, 0
            for piece in re.split(r";|&&", argv[2]):
                words = shlex.split(piece)
                if not words:
                    continue
                if words[0] == "echo":
                    lines.append(" ".join(words[1:]))
                elif words[0] == "sleep":
                    seconds += float(words[1])
                elif words[0] == "exit":
                    code = int(words[1])
                    break
            return cls(lines, seconds, code)
        opts = {a: argv[i + 1] for i, a in enumerate(argv[:-1]) if a.startswith("--")}
        node = env.get("SCANFLOW_NODE", "step")
        lines = [f"start {node} run_id={env.get('MLFLOW_RUN_ID', '')} args={' '.join(argv[-4:])}"]
        seconds = float(opts.get("--sleep", "0"))
        if opts.get("--fail") == "true":
            return cls([*lines, "something went wrong in the step"], seconds, 3)
        return cls([*lines, f"done {node}"], seconds, 0)


class FakeAPI:
    """The stand-in's state and controllers. Start it with :meth:`start`; ``url`` is its address."""

    def __init__(self, argo: bool = True) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.logs: dict[tuple[str, str], list[str]] = {}
        self.events: list[tuple[int, str, Key, dict[str, Any]]] = []
        self.version = 1000
        self.cond = threading.Condition()
        self.argo = argo
        self.forbidden_namespaces: set[str] = set()
        self.forbidden_verbs: set[str] = set()  # refused everywhere: "watch", say
        self.requests: list[tuple[str, str, str]] = []  # (method, path, user)
        self.accepts: list[str] = []  # each request's Accept header, in the order of ``requests``
        self.bodies: list[bytes] = []  # what each answer sent back (not the streams), in order
        self.step_delay = 0.05  # seconds between a pod's phases
        self.schema_version = K8S_VERSIONS[-1]  # the official schemas every object received must satisfy
        self.server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self.closed = threading.Event()
        # The watch history: a real server keeps a window of recent changes (its watch cache, etcd until
        # compaction); a watch from before it is answered 410 Gone, and the client must list again.
        self.max_events = 10_000
        self.compacted = 0  # changes up to this resource version are no longer kept
        self.expired: list[int] = []  # the resource version of each watch answered 410 Gone, in order
        self.watching = 0  # watches open now
        # Cleared, every running pod stays Running (its program does not end) until it is set again: a test
        # holds a step there while it does something to the cluster, with no race against the step's end.
        self.release = threading.Event()
        self.release.set()

    # -- the store ---------------------------------------------------------------------------------
    def _bump(self) -> str:
        self.version += 1
        return str(self.version)

    def put(self, key: Key, obj: dict[str, Any], event: str | None = None) -> dict[str, Any]:
        with self.cond:
            existed = key in self.objects
            meta = obj.setdefault("metadata", {})
            meta["resourceVersion"] = self._bump()
            meta.setdefault("uid", secrets.token_hex(8))
            meta.setdefault("creationTimestamp", _now())
            self.objects[key] = obj
            self.events.append((self.version, event or ("MODIFIED" if existed else "ADDED"), key, copy.deepcopy(obj)))
            self._trim()
            self.cond.notify_all()
            return copy.deepcopy(obj)

    def remove(self, key: Key) -> dict[str, Any] | None:
        with self.cond:
            obj = self.objects.pop(key, None)
            if obj is None:
                return None
            obj["metadata"]["resourceVersion"] = self._bump()
            self.events.append((self.version, "DELETED", key, copy.deepcopy(obj)))
            self._trim()
            self.cond.notify_all()
        plural, ns, name = key
        uid = obj["metadata"].get("uid")
        if plural == "namespaces":
            for other in [k for k in list(self.objects) if k[1] == name]:
                self.remove(other)
        elif plural in ("jobs", "workflows"):
            for other, pod in list(self.objects.items()):
                owners = pod.get("metadata", {}).get("ownerReferences") or []
                if other[0] == "pods" and other[1] == ns and any(o.get("uid") == uid for o in owners):
                    self.remove(other)
        return obj

    def _trim(self) -> None:
        excess = len(self.events) - self.max_events
        if excess > 0:
            self.compacted = self.events[excess - 1][0]
            del self.events[:excess]

    def compact(self) -> None:
        """Forget every change so far, as etcd's compaction does: a watch from an older resource version
        (or one that has not read them all yet) gets 410 Gone."""
        with self.cond:
            self.compacted = self.version
            self.events.clear()
            self.cond.notify_all()

    def wait_until(self, condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
        """Wait until ``condition()`` (checked under the store's lock after each change) holds; fails the
        test naming ``what`` if it does not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the stand-in never saw {what} (waited {timeout:g} s)")
                self.cond.wait(min(left, 0.5))

    def get(self, key: Key) -> dict[str, Any] | None:
        with self.cond:
            obj = self.objects.get(key)
            return copy.deepcopy(obj) if obj is not None else None

    def update(self, key: Key, fn: Any) -> dict[str, Any] | None:
        with self.cond:
            obj = self.objects.get(key)
            if obj is None:
                return None
            fn(obj)
            return self.put(key, obj)

    def problems(self, plural: str, obj: dict[str, Any]) -> list[Cause]:
        """Why ``obj`` would be refused as a ``plural`` object: its name, and its kind's official schema
        (strict: an unknown field is refused, where a real server's default would drop it with a warning, so
        a misspelt field fails the test that sent it). A controller-owned ``status`` is not the client's, and
        is not checked."""
        found = []
        name = str(obj.get("metadata", {}).get("name", ""))
        limit = 63 if plural in ("namespaces", "services", "jobs", "pods") else 253
        if name and (len(name) > limit or not DNS_LABEL.match(name.replace(".", "-"))):
            found.append(Cause("FieldValueInvalid", "metadata.name",
                               f'Invalid value: "{name}": must be no more than {limit} characters'))  # fmt: skip
        if plural in STATUS_OWNED:
            obj = {k: v for k, v in obj.items() if k != "status"}
        return found + causes(obj, self.schema_version)

    # -- serving -----------------------------------------------------------------------------------
    def start(self) -> FakeAPI:
        api = self

        class Handler(_Handler):
            fake = api

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        thread = threading.Thread(target=self.server.serve_forever, name="fake-kube-api", daemon=True)
        thread.start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.closed.set()
        with self.cond:
            self.cond.notify_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- controllers -------------------------------------------------------------------------------
    def created(self, key: Key, obj: dict[str, Any]) -> None:
        plural = key[0]
        if plural == "deployments":
            self.spawn(self._deployment, key)
        elif plural == "jobs":
            self.spawn(self._job, key)
        elif plural == "workflows":
            self.spawn(self._workflow, key)

    def _deployment(self, key: Key) -> None:
        time.sleep(self.step_delay)

        def ready(obj: dict[str, Any]) -> None:
            n = int(obj.get("spec", {}).get("replicas", 1))
            obj["status"] = {"replicas": n, "readyReplicas": n, "updatedReplicas": n, "availableReplicas": n}

        self.update(key, ready)

    def _pod(self, ns: str, name: str, template: dict[str, Any], owner: dict[str, Any], labels: dict[str, str]) -> Key:
        spec = copy.deepcopy(template.get("spec", {}))
        meta = {
            "name": name,
            "namespace": ns,
            "labels": {**(template.get("metadata", {}).get("labels") or {}), **labels},
            "ownerReferences": [
                {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
                 "uid": owner["metadata"]["uid"]}
            ],
        }  # fmt: skip
        container = spec["containers"][0]
        status = {
            "phase": "Pending",
            "containerStatuses": [
                {"name": container["name"], "image": container.get("image", ""), "ready": False,
                 "state": {"waiting": {"reason": "ContainerCreating"}}}
            ],
        }  # fmt: skip
        key: Key = ("pods", ns, name)
        self.logs[(ns, name)] = []
        self.put(key, {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status})
        return key

    def _run_pod(self, key: Key, container: dict[str, Any], deadline: float | None = None) -> str:
        """Run the pod's program; returns ``Succeeded``, ``Failed``, ``DeadlineExceeded``, ``Stuck`` or
        ``Gone`` (deleted meanwhile)."""
        time.sleep(self.step_delay)
        if "missing" in container.get("image", ""):

            def stuck(pod: dict[str, Any]) -> None:
                pod["status"]["containerStatuses"][0]["state"] = {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{container["image"]}"',
                    }
                }

            self.update(key, stuck)
            return "Stuck"
        program = Program.of(container)
        started = _now()

        def running(pod: dict[str, Any]) -> None:
            pod["status"]["phase"] = "Running"
            pod["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": started}}

        if self.update(key, running) is None:
            return "Gone"
        self.logs[(key[1], key[2])].extend(program.lines)
        end = time.monotonic() + program.seconds
        while time.monotonic() < end or not self.release.is_set():
            if self.closed.is_set() or self.get(key) is None:
                return "Gone"
            if deadline is not None and time.monotonic() > deadline:
                self.remove(key)
                return "DeadlineExceeded"
            if self._terminated(key):
                return "Gone"
            time.sleep(0.02)
        if self.get(key) is None:
            return "Gone"
        phase = "Succeeded" if program.code == 0 else "Failed"

        def done(pod: dict[str, Any]) -> None:
            pod["status"]["phase"] = phase
            pod["status"]["containerStatuses"][0]["state"] = {
                "terminated": {"exitCode": program.code, "reason": "Completed" if program.code == 0 else "Error",
                               "startedAt": started, "finishedAt": _now()}
            }  # fmt: skip

        self.update(key, done)
        return phase

    def _terminated(self, pod_key: Key) -> bool:
        pod = self.get(pod_key)
        if pod is None:
            return True
        wf = pod["metadata"].get("labels", {}).get("workflows.argoproj.io/workflow")
        if wf is None:
            return False
        body = self.get(("workflows", pod_key[1], wf))
        return body is None or body.get("spec", {}).get("shutdown") in ("Terminate", "Stop")

    def _job(self, key: Key) -> None:
        job = self.get(key)
        assert job is not None
        ns, name = key[1], key[2]
        started = time.monotonic()
        limit = job["spec"].get("activeDeadlineSeconds")
        deadline = started + float(limit) if limit else None
        self.update(key, lambda j: j.__setitem__("status", {"active": 1, "startTime": _now()}))
        pod_name = f"{name}-{secrets.token_hex(3)[:5]}"
        uid = job["metadata"]["uid"]
        pod = self._pod(ns, pod_name, job["spec"]["template"], job,
                        {"batch.kubernetes.io/job-name": name, "job-name": name, "controller-uid": uid})  # fmt: skip
        container = job["spec"]["template"]["spec"]["containers"][0]
        result = self._run_pod(pod, container, deadline)
        while result == "Stuck" and not self.closed.is_set() and self.get(key) is not None:
            if deadline is not None and time.monotonic() > deadline:
                result = "DeadlineExceeded"
                self.remove(pod)
                break
            time.sleep(0.05)
        if result in ("Gone", "Stuck"):
            return

        def finish(j: dict[str, Any]) -> None:
            status = j.setdefault("status", {})
            status.pop("active", None)
            if result == "Succeeded":
                status["succeeded"] = 1
                status["conditions"] = [{"type": "Complete", "status": "True"}]
            elif result == "DeadlineExceeded":
                status["failed"] = 1
                status["conditions"] = [
                    {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                     "message": "Job was active longer than specified deadline"}
                ]  # fmt: skip
            else:
                status["failed"] = 1
                status["conditions"] = [
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                     "message": "Job has reached the specified backoff limit"}
                ]  # fmt: skip

        self.update(key, finish)

    def _workflow(self, key: Key) -> None:
        body = self.get(key)
        assert body is not None
        ns, name = key[1], key[2]
        spec = body["spec"]
        templates = {t["name"]: t for t in spec["templates"]}
        params = {p["name"]: p.get("value", "") for p in (spec.get("arguments") or {}).get("parameters") or []}
        nodes: dict[str, dict[str, Any]] = {}

        def set_node(full: str, **fields: Any) -> None:
            node = nodes.setdefault(full, {"id": f"{name}-{abs(hash(full)) % 10**10}", "name": full,
                                           "displayName": full.rsplit(".", 1)[-1]})  # fmt: skip
            node.update(fields)

            def write(w: dict[str, Any]) -> None:
                w.setdefault("status", {})["nodes"] = {n["id"]: dict(n) for n in nodes.values()}

            self.update(key, write)

        def phase(p: str, message: str = "") -> None:
            def write(w: dict[str, Any]) -> None:
                w.setdefault("status", {}).update({"phase": p, "message": message})

            self.update(key, write)

        def subst(text: str, inputs: dict[str, str]) -> str:
            text = re.sub(r"\{\{workflow\.parameters\.([-\w]+)\}\}", lambda m: params.get(m.group(1), ""), text)
            text = text.replace("{{workflow.name}}", name)
            return re.sub(r"\{\{inputs\.parameters\.([-\w]+)\}\}", lambda m: inputs.get(m.group(1), ""), text)

        def stopped() -> bool:
            current = self.get(key)
            return current is None or current.get("spec", {}).get("shutdown") in ("Terminate", "Stop")

        def run_template(tname: str, full: str, inputs: dict[str, str]) -> str:
            template = templates[tname]
            if "dag" in template:
                set_node(full, type="DAG", templateName=tname, phase="Running")
                results: dict[str, str] = {}
                verdict = "Succeeded"
                for task in template["dag"]["tasks"]:
                    child = f"{full}.{task['name']}"
                    deps = task.get("dependencies") or []
                    if stopped() or any(results.get(d) != "Succeeded" for d in deps):
                        set_node(child, type="Skipped", templateName=task["template"], phase="Omitted")
                        results[task["name"]] = "Omitted"
                        continue
                    args = {p["name"]: subst(p.get("value", ""), inputs)
                            for p in (task.get("arguments") or {}).get("parameters") or []}  # fmt: skip
                    results[task["name"]] = run_template(task["template"], child, args)
                    if results[task["name"]] != "Succeeded":
                        verdict = "Failed"
                set_node(full, phase=verdict)
                return verdict
            retry = template.get("retryStrategy") or {}
            attempts = 1 + int(retry.get("limit", 0))
            if retry:
                set_node(full, type="Retry", templateName=tname, phase="Running")
            outcome = "Failed"
            for attempt in range(attempts):
                pod_node = f"{full}({attempt})" if retry else full
                container = copy.deepcopy(template["container"])
                container["command"] = [subst(a, inputs) for a in container.get("command") or []]
                container["args"] = [subst(a, inputs) for a in container.get("args") or []]
                for env in container.get("env") or []:
                    env["value"] = subst(env.get("value", ""), inputs)
                set_node(pod_node, type="Pod", templateName=tname, phase="Running")
                pod_name = f"{name}-{tname}-{secrets.token_hex(4)}"[:63].rstrip("-")
                labels = {**(spec.get("podMetadata") or {}).get("labels", {}),
                          **(template.get("metadata") or {}).get("labels", {}),
                          "workflows.argoproj.io/workflow": name}  # fmt: skip
                pod_template = {"metadata": {"labels": labels}, "spec": {"containers": [container]}}
                pod = self._pod(ns, pod_name, pod_template, body, {})
                limit = template.get("activeDeadlineSeconds")
                deadline = time.monotonic() + float(limit) if limit else None
                result = self._run_pod(pod, container, deadline)
                if result == "Gone" and stopped():
                    set_node(pod_node, phase="Failed", message="terminated")
                    outcome = "Failed"
                    break
                outcome = "Succeeded" if result == "Succeeded" else "Failed"
                set_node(pod_node, phase=outcome, message="" if outcome == "Succeeded" else "Error (exit code 3)")
                if outcome == "Succeeded":
                    break
            if retry:
                set_node(full, phase=outcome)
            return outcome

        time.sleep(self.step_delay)
        phase("Running")
        verdict = run_template(spec["entrypoint"], name, {})
        phase(verdict, "" if verdict == "Succeeded" else "child failed")


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        out["details"] = details
    return out


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ----------------------------------------------------------------------------------
    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.fake.bodies.append(data)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, lines: Iterator[bytes], content_type: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for line in lines:
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _route(self) -> tuple[str, str, str, str, dict[str, list[str]]] | None:
        """(plural, namespace, name, subresource, query) of the request, None for an unknown path."""
        url = urlparse(self.path)
        query = parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            rest = parts[3:]
            group = parts[1]
            if group == "argoproj.io" and not self.fake.argo:
                return None
        else:
            return None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            ns, plural = rest[1], rest[2]
            name = rest[3] if len(rest) > 3 else ""
            sub = rest[4] if len(rest) > 4 else ""
        elif rest[:1] == ["namespaces"]:
            ns, plural, name, sub = "", "namespaces", rest[1] if len(rest) > 1 else "", ""
        else:
            return None
        if plural not in RESOURCES:
            return None
        return plural, ns, name, sub, query

    def _verb(self, name: str, query: dict[str, list[str]]) -> str:
        method = self.command
        if method == "GET":
            if name:
                return "get"
            return "watch" if query.get("watch", ["false"])[0] == "true" else "list"
        return {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[method]

    def _forbidden(self, plural: str, ns: str, name: str, verb: str) -> bool:
        user = self.headers.get("Impersonate-User")
        self.fake.requests.append((self.command, self.path, user or ADMIN))
        self.fake.accepts.append(self.headers.get("Accept") or "")
        if user is None and ns not in self.fake.forbidden_namespaces and verb not in self.fake.forbidden_verbs:
            return False
        group = RESOURCES[plural][0]
        resource = f"{plural}.{group}" if group else plural
        who = user or "system:serviceaccount:ci:deployer"
        scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
        named = f' "{name}"' if name else ""
        self._send(
            403,
            _status(
                403,
                "Forbidden",
                f'{resource}{named} is forbidden: User "{who}" cannot {verb} resource "{plural}" in API group '
                f'"{group}" {scope}',
                {"name": name, "group": group, "kind": plural},
            ),
        )
        return True

    # -- methods -----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if urlparse(self.path).path.rstrip("/") == "/version":
            self._send(
                200,
                {
                    "major": "1",
                    "minor": self.fake.schema_version.split(".")[1],
                    "gitVersion": f"v{self.fake.schema_version}-scanflow-stand-in",
                    "platform": "linux/amd64",
                },
            )
            return
        route = self._route()
        if route is None:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        plural, ns, name, sub, query = route
        verb = self._verb(name, query)
        if self._forbidden(plural, ns, name, verb):
            return
        fake = self.fake
        if name and sub == "log":
            self._log(ns, name, query)
            return
        if name:
            obj = fake.get((plural, ns, name))
            if obj is None:
                self._not_found(plural, name)
                return
            if "PartialObjectMetadata" in (self.headers.get("Accept") or ""):
                obj = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
            self._send(200, obj)
            return
        labels = query.get("labelSelector", [None])[0]
        fields = query.get("fieldSelector", [None])[0]
        if verb == "watch":
            since = query.get("resourceVersion", [None])[0]
            timeout = float(query.get("timeoutSeconds", ["30"])[0])
            self._stream(self._watch(plural, ns, labels, fields, since, timeout))
            return
        with fake.cond:
            items = [copy.deepcopy(o) for k, o in fake.objects.items() if k[0] == plural and (k[1] == ns or not ns)]
            version = str(fake.version)
        items = [o for o in items if _matches(o, labels, fields)]
        items.sort(key=lambda o: (o["metadata"].get("creationTimestamp", ""), int(o["metadata"]["resourceVersion"])))
        group, ver, kind, _ = RESOURCES[plural]
        api_version = f"{group}/{ver}" if group else ver
        self._send(
            200,
            {
                "kind": f"{kind}List",
                "apiVersion": api_version,
                "metadata": {"resourceVersion": version},
                "items": items,
            },
        )

    def _watch(
        self, plural: str, ns: str, labels: str | None, fields: str | None, since: str | None, timeout: float
    ) -> Iterator[bytes]:
        fake = self.fake
        end = time.monotonic() + timeout
        with fake.cond:
            if since in (None, "0"):  # from now, the current objects first (as ADDED events)
                start = fake.version
                initial = [copy.deepcopy(o) for k, o in fake.objects.items() if k[0] == plural and k[1] == ns]
            else:
                start, initial = int(since), []
        for obj in initial:
            if _matches(obj, labels, fields):
                yield json.dumps({"type": "ADDED", "object": obj}).encode() + b"\n"
        with fake.cond:
            fake.watching += 1
            fake.cond.notify_all()
        try:
            yield from self._changes(plural, ns, labels, fields, start, end)
        finally:
            with fake.cond:
                fake.watching -= 1
                fake.cond.notify_all()

    def _changes(
        self, plural: str, ns: str, labels: str | None, fields: str | None, seen: int, end: float
    ) -> Iterator[bytes]:
        fake = self.fake
        while time.monotonic() < end and not fake.closed.is_set():
            with fake.cond:
                # Changes after ``seen`` were forgotten before this watch read them: it cannot go on.
                stale = seen < fake.compacted
                if stale:
                    fake.expired.append(seen)
                    fake.cond.notify_all()
                    oldest = fake.compacted
                fresh = [] if stale else [e for e in fake.events if e[0] > seen]
                if not fresh and not stale:
                    fake.cond.wait(min(0.5, max(0.01, end - time.monotonic())))
                    continue
            if stale:
                # What a real server sends: a 200 stream with one ERROR event carrying a 410 Status.
                gone = _status(410, "Expired", f"too old resource version: {seen} ({oldest})")
                yield json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n"
                return
            for version, kind, key, obj in fresh:
                seen = version
                if key[0] == plural and key[1] == ns and _matches(obj, labels, fields):
                    yield json.dumps({"type": kind, "object": obj}).encode() + b"\n"

    def _log(self, ns: str, name: str, query: dict[str, list[str]]) -> None:
        fake = self.fake
        pod = fake.get(("pods", ns, name))
        if pod is None:
            self._not_found("pods", name)
            return
        state = pod["status"]["containerStatuses"][0]["state"]
        if "waiting" in state:
            self._send(400, _status(400, "BadRequest", f'container "main" in pod "{name}" is waiting to start: '
                                    f"{state['waiting'].get('reason', '')}"))  # fmt: skip
            return
        tail = query.get("tailLines", [None])[0]
        if query.get("follow", ["false"])[0] != "true":
            lines = fake.logs.get((ns, name), [])
            if tail is not None:
                lines = lines[-int(tail) :]
            data = "".join(f"{line}\n" for line in lines).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return

        def follow() -> Iterator[bytes]:
            sent = 0
            while not fake.closed.is_set():
                lines = fake.logs.get((ns, name), [])
                while sent < len(lines):
                    yield f"{lines[sent]}\n".encode()
                    sent += 1
                current = fake.get(("pods", ns, name))
                if current is None or current["status"]["phase"] in ("Succeeded", "Failed"):
                    lines = fake.logs.get((ns, name), [])
                    while sent < len(lines):
                        yield f"{lines[sent]}\n".encode()
                        sent += 1
                    return
                time.sleep(0.02)

        self._stream(follow(), "text/plain")

    def _not_found(self, plural: str, name: str) -> None:
        group = RESOURCES[plural][0]
        resource = f"{plural}.{group}" if group else plural
        self._send(
            404,
            _status(404, "NotFound", f'{resource} "{name}" not found', {"name": name, "group": group, "kind": plural}),
        )

    def _namespace_missing(self, ns: str) -> bool:
        if ns and self.fake.get(("namespaces", "", ns)) is None:
            self._not_found("namespaces", ns)
            return True
        return False

    def _refused(self, plural: str, obj: Any, whole: dict[str, Any] | None = None) -> bool:
        """Answer 400 for a body that is not an object of the route's kind, 422 for one its schema (or the
        naming rules) refuses; True when it was refused. ``whole`` is the object as it would be stored (a
        patch merged into the current object), ``obj`` what came."""
        group, version, kind, _ = RESOURCES[plural]
        expected = f"{group}/{version}" if group else version
        if not isinstance(obj, dict):
            self._send(400, _status(400, "BadRequest", f"the body of the request is not a JSON object: {obj!r:.80}"))
            return True
        stored = obj if whole is None else whole
        if stored.get("kind") != kind or stored.get("apiVersion") != expected:
            sent = f"{stored.get('apiVersion')}, {stored.get('kind')}"
            message = f"the API version and kind in the data ({sent}) do not match the expected {expected}, {kind}"
            self._send(400, _status(400, "BadRequest", message))
            return True
        name = str(stored.get("metadata", {}).get("name", ""))
        found = [c.as_dict() for c in self.fake.problems(plural, stored)]
        if not found:
            return False
        qualified = f"{kind}.{group}" if group else kind
        listed = ", ".join(c["message"] for c in found)
        message = f'{qualified} "{name}" is invalid: ' + (listed if len(found) == 1 else f"[{listed}]")
        details = {"name": name, "group": group, "kind": kind, "causes": found}
        self._send(422, _status(422, "Invalid", message, details))
        return True

    def do_POST(self) -> None:
        route = self._route()
        if route is None:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        plural, ns, _name, _sub, query = route
        if self._forbidden(plural, ns, "", "create"):
            return
        obj = self._body()
        if self._namespace_missing(ns):
            return
        if isinstance(obj, dict):
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            if ns:
                meta["namespace"] = ns
            if plural in STATUS_OWNED:
                obj.pop("status", None)  # the controllers' part: a create does not set it
        if self._refused(plural, obj):
            return
        meta = obj["metadata"]
        key: Key = (plural, ns, meta["name"])
        if self.fake.get(key) is not None:
            self._already_exists(plural, meta["name"])
            return
        if query.get("dryRun"):
            self._send(201, obj)
            return
        stored = self.fake.put(key, obj)
        self._send(201, stored)
        self.fake.created(key, stored)

    def do_PUT(self) -> None:
        """A replace: the whole object, refused with 409 when its ``resourceVersion`` is not the current one."""
        route = self._route()
        if route is None:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        plural, ns, name, _sub, _query = route
        if self._forbidden(plural, ns, name, "update"):
            return
        obj = self._body()
        if self._namespace_missing(ns):
            return
        key: Key = (plural, ns, name)
        current = self.fake.get(key)
        if current is None:
            self._not_found(plural, name)
            return
        if isinstance(obj, dict):
            if plural in STATUS_OWNED:
                obj["status"] = current.get("status")
                if obj["status"] is None:
                    obj.pop("status")
            obj.setdefault("metadata", {})
        if self._refused(plural, obj):
            return
        meta = obj["metadata"]
        if meta.get("name") != name:
            self._send(400, _status(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match "
                                    f"the name on the URL ({name})"))  # fmt: skip
            return
        wanted = meta.get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            kind = RESOURCES[plural][2]
            self._send(409, _status(409, "Conflict", f'Operation cannot be fulfilled on {plural} "{name}": the object '
                                    "has been modified; please apply your changes to the latest version and try "
                                    "again", {"name": name, "kind": kind}))  # fmt: skip
            return
        meta.update({k: current["metadata"][k] for k in ("uid", "creationTimestamp") if k in current["metadata"]})
        if ns:
            meta["namespace"] = ns
        self._send(200, self.fake.put(key, obj))

    def do_PATCH(self) -> None:
        route = self._route()
        if route is None:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        plural, ns, name, _sub, _query = route
        if self._forbidden(plural, ns, name, "patch"):
            return
        patch = self._body()
        content = self.headers.get("Content-Type", "")
        if self._namespace_missing(ns):
            return
        key: Key = (plural, ns, name)
        current = self.fake.get(key)
        if content.startswith("application/apply-patch"):
            if not isinstance(patch, dict) or not patch.get("apiVersion") or not patch.get("kind"):
                self._send(400, _status(400, "BadRequest", "apiVersion and kind must be set for server-side apply"))
                return
            if plural in STATUS_OWNED:
                patch.pop("status", None)
            if current is None:
                if self._refused(plural, patch):
                    return
                stored = self.fake.put(key, patch)
                self._send(201, stored)
                self.fake.created(key, stored)
                return
            keep = {k: current["metadata"][k] for k in ("uid", "creationTimestamp") if k in current["metadata"]}
            merged = {**current, **{k: v for k, v in patch.items() if k != "metadata"}}
            merged["metadata"] = {**patch.get("metadata", {}), **keep}
            if self._refused(plural, patch, merged):
                return
            stored = self.fake.put(key, merged)
            self._send(200, stored)
            if plural == "deployments":
                self.fake.created(key, stored)
            return
        if current is None:
            self._not_found(plural, name)
            return
        if not isinstance(patch, dict):  # a JSON patch (a list of operations): not served here
            self._send(415, _status(415, "UnsupportedMediaType", f"the stand-in serves no {content} patch"))
            return
        if plural in STATUS_OWNED:
            patch.pop("status", None)
        merged = _merge(current, patch)
        if self._refused(plural, patch, merged):
            return
        self._send(200, self.fake.put(key, merged))

    def do_DELETE(self) -> None:
        route = self._route()
        if route is None:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return
        plural, ns, name, _sub, _query = route
        if self._forbidden(plural, ns, name, "delete"):
            return
        body = self._body()
        if body is not None:
            if not isinstance(body, dict) or body.get("kind", "DeleteOptions") != "DeleteOptions":
                self._send(400, _status(400, "BadRequest", f"the body is not a DeleteOptions object: {body!r:.80}"))
                return
            options = causes({"apiVersion": "v1", "kind": "DeleteOptions", **body}, self.fake.schema_version)
            if options:
                detail = "; ".join(c.as_dict()["message"] for c in options)
                self._send(400, _status(400, "BadRequest", f"invalid DeleteOptions: {detail}"))
                return
        obj = self.fake.remove((plural, ns, name))
        if obj is None:
            self._not_found(plural, name)
            return
        self._send(200, _status(200, "", "") | {"status": "Success", "details": {"name": name, "kind": plural}})

    def _already_exists(self, plural: str, name: str) -> None:
        group = RESOURCES[plural][0]
        resource = f"{plural}.{group}" if group else plural
        self._send(409, _status(409, "AlreadyExists", f'{resource} "{name}" already exists',
                                {"name": name, "group": group, "kind": plural}))  # fmt: skip
