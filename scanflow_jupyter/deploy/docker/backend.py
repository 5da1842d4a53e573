"""The Docker backend: each node of a batch run is a container, driven by the engine's shared scheduler.

The runner hands a :class:`~scanflow_jupyter.engine.backend.Task` resolved for this machine; the backend
translates it for a container: the step's image (built by :mod:`.images`), the launcher inside the image,
the node's own environment (never this machine's), the tracker's in-network address, the application's
shared data folders as named volumes, resources as limits. Output is streamed into the run's log files as
it comes (and to ``on_log``), the exit code is the container's.

The local backend hands a step its MLflow run id through an inherited pipe, so creating the run overlaps
the step's start-up. A container inherits no descriptors: here a starter thread creates and starts the
container with its stdin open, then reads the id from that pipe (the runner writes it right after ``submit``
returns) and writes it to the container's stdin, where the launcher reads it. So here too the run is created
while the container starts.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...engine.backend import Outcome, Task, tail
from ...engine.launch import LAUNCHER
from ...errors import BackendError
from ...tracking.quiet import QUIET_ENV
from ...workflow import Executor
from ..container import APP_DIR, LAUNCHER_PATH
from ..container import INLINE_LAUNCHER as INLINE_LAUNCHER  # the container contract, also importable here
from .client import labels, object_name

if TYPE_CHECKING:
    import docker

STOP_GRACE = 3  # seconds between SIGTERM and SIGKILL
# What a step's container takes from the engine's task: its run and node, and with tracking its MLflow experiment
# and run (the run id comes on stdin instead when the launcher waits for it: SCANFLOW_RUN_ID_FD is set apart).
STEP_ENV = ("SCANFLOW_RUN_ID", "SCANFLOW_NODE", "MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID")
LOG_GRACE = 10.0  # seconds the output stream may take to end after the container exited
OnLog = Callable[[str, str, str], None]  # (address, stream, line)


@dataclass
class DockerHandle:
    task: Task
    name: str
    started: float = field(default_factory=time.perf_counter)
    container: str | None = None  # its id, once created
    stream: Any = None  # its attached output stream
    error: str = ""
    timed_out: bool = False
    cancelled: bool = False
    ready: threading.Event = field(default_factory=threading.Event)
    logs_done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class DockerBackend:
    """Run nodes as containers on a Docker engine (see :class:`~.app.DockerApp`, which builds one).

    Parameters
    ----------
    client: the engine.
    app: the application's name (labels, container names).
    nodes: the executors by address (their own ``env`` and ``resources``).
    images: the image name of each executor, and whether it is a custom (user) Dockerfile.
    network: the application's network.
    volumes: named volume -> mount point in the container (shared data folders).
    tracking_uri: ``(as seen from this machine, as seen from the network)``; a tracked step gets the second
        as its ``MLFLOW_TRACKING_URI``, and so does an untracked one whose node sets none.
    keep: keep exited containers (for debugging); by default they are removed once their logs are read.
    """

    name = "docker"

    def __init__(
        self,
        client: docker.DockerClient,
        app: str,
        nodes: Mapping[str, Executor],
        images: Mapping[str, tuple[str, bool]],
        network: str,
        volumes: Mapping[str, str] | None = None,
        tracking_uri: tuple[str, str] | None = None,
        on_log: OnLog | None = None,
        keep: bool = False,
    ) -> None:
        self.client = client
        self.app = app
        self.nodes = dict(nodes)
        self.images = dict(images)
        self.network = network
        self.volumes = dict(volumes or {})
        self.tracking_uri = tracking_uri
        self.on_log = on_log
        self.keep = keep
        self._removals: list[threading.Thread] = []
        self._removals_lock = threading.Lock()

    # -- translating a task ----------------------------------------------------------------------
    def command(self, task: Task) -> list[str]:
        """The container's argv: the launcher in the image (or given inline to a custom image)."""
        argv = list(task.argv)
        rest = argv[2:] if len(argv) > 1 and argv[1] == LAUNCHER else argv[1:]
        _image, custom = self.images[task.address]
        if custom:  # a user's image has no launcher file: hand its source to python3 -c (Debian has no `python`)
            with open(LAUNCHER) as fh:  # run as a module would be (__file__ set, its __future__ import first)
                return ["python3", "-c", INLINE_LAUNCHER, fh.read(), *rest]
        return ["python", LAUNCHER_PATH, *rest]

    def environment(self, task: Task, run_id: str | None) -> dict[str, str]:
        """The node's own ``env``, what the engine sets for a step (its run and node, with tracking its MLflow
        experiment and run, the quiet logging defaults) and the tracker as the container reaches it.

        Only these names are taken from the task: its environment is this machine's, and anything else in it
        (``MLFLOW_TRACKING_PASSWORD``, ``MLFLOW_TRACKING_TOKEN``, a token meant for another server, the paths
        of this machine) would be written into the container's config, where anyone who may inspect it reads it.
        """
        node = self.nodes.get(task.address)
        env = dict(node.env) if node is not None else {}
        env.update({key: task.env[key] for key in (*STEP_ENV, *QUIET_ENV) if key in task.env})
        env["PYTHONUNBUFFERED"] = "1"
        if node is not None and node.function is not None:
            env["PYTHONPATH"] = APP_DIR
        if self.tracking_uri is not None:
            tracked = task.env.get("MLFLOW_TRACKING_URI") == self.tracking_uri[0]
            if tracked or "MLFLOW_TRACKING_URI" not in env:  # else the node's own, in its env
                env["MLFLOW_TRACKING_URI"] = self.tracking_uri[1]
        if run_id:
            env["MLFLOW_RUN_ID"] = run_id
        return env

    def _limits(self, address: str) -> dict[str, Any]:
        node = self.nodes.get(address)
        res = node.resources if node is not None else None
        out: dict[str, Any] = {}
        if res is None:
            return out
        if res.cpu is not None:
            cpu = str(res.cpu)
            cores = float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu)
            out["nano_cpus"] = int(cores * 1e9)
        if res.memory:
            out["mem_limit"] = _memory(res.memory)
        return out

    # -- the protocol ---------------------------------------------------------------------------
    def submit(self, task: Task) -> DockerHandle:
        if task.address not in self.images:
            raise BackendError(
                f"Step {task.address!r} has no image; build the application's images first (DockerApp.build)."
            )
        task.stdout.parent.mkdir(parents=True, exist_ok=True)
        name = object_name("scanflow", self.app, task.run_id, task.address.replace("/", "-"), f"a{task.attempt}")
        handle = DockerHandle(task, name)
        fd_text = task.env.get("SCANFLOW_RUN_ID_FD")
        # The runner closes its end of the pipe when submit returns: keep our own copy for the starter.
        fd = os.dup(int(fd_text)) if fd_text is not None else None
        threading.Thread(target=self._start, args=(handle, fd), name=f"docker-{name}", daemon=True).start()
        return handle

    def _start(self, handle: DockerHandle, fd: int | None) -> None:
        stdin: Any = None
        try:
            task = handle.task
            with handle.lock:
                if handle.cancelled:
                    return
            image, _custom = self.images[task.address]
            api = self.client.api
            env = self.environment(task, None)
            if fd is not None:  # the launcher reads the run id from its stdin, which gets it once it exists
                env["SCANFLOW_RUN_ID_FD"] = "0"
            # The low-level API: one request to create, one to start (the high-level one inspects in between).
            host_config = api.create_host_config(
                binds={vol: {"bind": path, "mode": "rw"} for vol, path in self.volumes.items()},
                network_mode=self.network,
                **self._limits(task.address),
            )
            created = api.create_container(
                image,
                self.command(task),
                name=handle.name,
                environment=env,
                working_dir=APP_DIR,
                labels=labels(self.app, "step", run_id=task.run_id, node=task.address),
                host_config=host_config,
                stdin_open=fd is not None,
            )
            with handle.lock:
                handle.container = str(created["Id"])
                cancelled = handle.cancelled
            if cancelled:
                return
            # Attach before starting, as 'docker run' does: attaching to a container that has already exited
            # waits for a start that never comes. So the stream holds everything from the first byte.
            stream = api.attach(handle.container, stream=True, logs=True, demux=True)
            handle.stream = stream
            threading.Thread(target=self._follow, args=(handle, stream), daemon=True).start()
            if fd is not None:
                stdin = api.attach_socket(handle.container, params={"stdin": 1, "stream": 1})
            api.start(handle.container)
        except Exception as exc:  # reported as the step's error by wait()
            handle.error = f"{type(exc).__name__}: {getattr(exc, 'explanation', None) or exc}"
        finally:
            handle.ready.set()
            if fd is not None:
                self._hand_run_id(fd, stdin)

    @staticmethod
    def _hand_run_id(fd: int, stdin: Any) -> None:
        """Pass the step's MLflow run id from the runner's pipe to the container's stdin, then close it. The
        container was started meanwhile: creating the run overlaps its start, as with a local step. Without
        an id (the run could not be created) the launcher gets an empty stdin and exits without running."""
        with os.fdopen(fd, "rb") as pipe:
            run_id = pipe.read()
        if stdin is None:
            return
        raw = getattr(stdin, "_sock", stdin)
        with contextlib.suppress(OSError):  # the container is gone already (cancelled, or it failed)
            if run_id.strip():
                raw.sendall(run_id.strip() + b"\n")
            raw.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            stdin.close()

    def _follow(self, handle: DockerHandle, stream: Any) -> None:
        """Stream the container's stdout and stderr into the run's log files as they come."""
        task = handle.task
        # An unbuffered print arrives in pieces ("done", " ", "own", "\n"): on_log gets whole lines.
        partial = {"stdout": b"", "stderr": b""}

        def emit(which: str, data: bytes, final: bool = False) -> None:
            if self.on_log is None:
                return
            lines = (partial[which] + data).split(b"\n")
            partial[which] = b"" if final else lines.pop()
            for line in lines:
                if line or not final:
                    self.on_log(task.address, which, line.decode("utf-8", "replace").rstrip("\r"))

        try:
            with open(task.stdout, "ab") as out, open(task.stderr, "ab") as err:
                for stdout, stderr in stream:
                    for data, fh, which in ((stdout, out, "stdout"), (stderr, err, "stderr")):
                        if data:
                            fh.write(data)
                            fh.flush()
                            emit(which, data)
        except Exception:  # the container went away: what was read is in the files
            pass
        finally:
            with contextlib.suppress(Exception):
                emit("stdout", b"", final=True)
                emit("stderr", b"", final=True)
            handle.logs_done.set()

    def wait(self, handle: DockerHandle) -> Outcome:
        import requests

        handle.ready.wait()
        task = handle.task
        container = handle.container
        if container is None or handle.error:
            self._remove(handle)
            if handle.cancelled:
                return Outcome(None, cancelled=True, duration=time.perf_counter() - handle.started)
            return Outcome(None, error=handle.error or "the container was not created")
        timeout = None
        if task.timeout is not None:
            timeout = max(0.1, task.timeout - (time.perf_counter() - handle.started))
        code: int | None = None
        try:
            result = self.client.api.wait(container, timeout=timeout)
            code = int(result.get("StatusCode", -1))
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError):  # ran past its timeout
            with handle.lock:
                if not handle.cancelled:
                    handle.timed_out = True
            self._stop(handle)
        if not handle.logs_done.wait(LOG_GRACE) and handle.stream is not None:
            with contextlib.suppress(Exception):  # never hang on a stream the engine did not close
                handle.stream.close()
        duration = time.perf_counter() - handle.started
        self._remove(handle)
        if handle.timed_out or handle.cancelled:
            return Outcome(None, timed_out=handle.timed_out, cancelled=handle.cancelled, duration=duration)
        error = "" if code == 0 else tail(task.stderr) or tail(task.stdout)
        return Outcome(code, duration=duration, error=error)

    def status(self, handle: DockerHandle) -> str:
        if handle.container is None:
            return "running" if not handle.ready.is_set() else "exited"
        with contextlib.suppress(Exception):
            state = self.client.api.inspect_container(handle.container)["State"]["Status"]
            return "running" if state in ("created", "running", "restarting") else "exited"
        return "exited"

    def logs(self, handle: DockerHandle) -> tuple[str, str]:
        return tail(handle.task.stdout, 10_000), tail(handle.task.stderr, 10_000)

    def cancel(self, handle: DockerHandle) -> None:
        with handle.lock:
            handle.cancelled = handle.cancelled or not handle.timed_out
        self._stop(handle)

    def _stop(self, handle: DockerHandle) -> None:
        if handle.container is not None:
            with contextlib.suppress(Exception):
                self.client.api.stop(handle.container, timeout=STOP_GRACE)

    def _remove(self, handle: DockerHandle) -> None:
        """Remove the exited container in the background: the next step need not wait for it."""
        if handle.container is None or self.keep:
            return

        def remove(container: str = handle.container) -> None:
            with contextlib.suppress(Exception):
                self.client.api.remove_container(container, force=True)

        thread = threading.Thread(target=remove, daemon=True, name=f"docker-rm-{handle.name}")
        with self._removals_lock:
            self._removals = [t for t in self._removals if t.is_alive()] + [thread]
        thread.start()

    def drain(self, timeout: float = 60.0) -> None:
        """Wait for the background removals of exited containers (call after a run)."""
        with self._removals_lock:
            pending = list(self._removals)
        deadline = time.monotonic() + timeout
        for thread in pending:
            thread.join(max(0.0, deadline - time.monotonic()))


def _memory(text: str) -> str:
    """A Kubernetes-style quantity (``512Mi``, ``2G``) as Docker's ``mem_limit`` (``512m``, ``2g``)."""
    units = {"Ki": "k", "Mi": "m", "Gi": "g", "K": "k", "M": "m", "G": "g", "k": "k", "m": "m", "g": "g"}
    for suffix, unit in units.items():
        if text.endswith(suffix):
            return text[: -len(suffix)] + unit
    return text
