"""The Docker backend: each node of a batch run is a container, driven by the engine's shared scheduler.

The runner hands a backend-neutral :class:`~scanflow_jupyter.engine.backend.Task` (the launcher's arguments,
the step's own environment); the backend adds what a container needs: the step's image (built by
:mod:`.images`), the launcher inside the image, the tracker's in-network address, the application's shared data
folders as named volumes, resources as limits. This machine's environment never reaches a container. Output is
streamed into the run's log files as it comes (and to ``on_log``), the exit code is the container's.

Each attempt's container has a name of its own and carries the labels of its application, run, step and attempt
(:mod:`..attempt`): after a killed driver, :meth:`DockerBackend.recover` finds the containers it left by label
and stops them before the run resumes.

The local backend hands a step its MLflow run id through an inherited pipe, so creating the run overlaps
the step's start-up. A container inherits no descriptors: here a starter thread creates and starts the
container with its stdin open, then reads the id from that pipe (the runner writes it right after ``submit``
returns) and writes it to the container's stdin, where the launcher reads it. So here too the run is created
while the container starts.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...engine.backend import Outcome, Task, tail
from ...engine.launch import LAUNCHER
from ...errors import BackendError
from ...workflow import Executor
from ..attempt import LOG_GRACE, Attempt, AttemptBackend, attempt_id
from ..attempt import OnLog as OnLog  # where app.py looks for it
from ..container import APP_DIR, LAUNCHER_PATH
from ..container import INLINE_LAUNCHER as INLINE_LAUNCHER  # the container contract, also importable here
from .client import LABEL_APP, LABEL_MANAGED, LABEL_ROLE, LABEL_RUN, labels, object_name

if TYPE_CHECKING:
    import docker

STOP_GRACE = 3  # seconds between SIGTERM and SIGKILL
LABEL_ATTEMPT = "scanflow.attempt"  # the attempt's own id (engine attempt number and a random tail)


@dataclass
class DockerHandle(Attempt):
    container: str | None = None  # its id, once created
    stream: Any = None  # its attached output stream


class DockerBackend(AttemptBackend):
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
        rest = list(task.argv)
        _image, custom = self.images[task.address]
        if custom:  # a user's image has no launcher file: hand its source to python3 -c (Debian has no `python`)
            with open(LAUNCHER) as fh:  # run as a module would be (__file__ set, its __future__ import first)
                return ["python3", "-c", INLINE_LAUNCHER, fh.read(), *rest]
        return ["python", LAUNCHER_PATH, *rest]

    def environment(self, task: Task, run_id: str | None) -> dict[str, str]:
        """The step's own environment (its node's ``env``, its run and node, with tracking its MLflow experiment)
        under the quiet logging defaults, and the tracker as the container reaches it.

        Nothing of this machine: the task's ``tracking`` (this machine's store, perhaps with a password) is
        replaced by the tracker, and this machine's variables (``MLFLOW_TRACKING_TOKEN``, a token meant for
        another server, its paths) are never in a task: they would be written into the container's config,
        where anyone who may inspect it reads it.
        """
        env = {**task.defaults, **task.env, "PYTHONUNBUFFERED": "1"}
        if task.function:
            env["PYTHONPATH"] = APP_DIR
        # Tracked, the tracker; untracked, the node's own URI if it has one, else the tracker.
        if self.tracking_uri is not None and (task.tracking or "MLFLOW_TRACKING_URI" not in env):
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
    def _check(self, task: Task) -> None:
        if task.address not in self.images:
            raise BackendError(
                f"Step {task.address!r} has no image; build the application's images first (DockerApp.build)."
            )

    def _handle(self, task: Task) -> DockerHandle:
        attempt = attempt_id(task)
        name = object_name("scanflow", self.app, task.run_id, task.address.replace("/", "-"), f"a{attempt}")
        return DockerHandle(task, name, attempt)

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
                labels=labels(self.app, "step", run_id=task.run_id, node=task.address, attempt=handle.attempt),
                host_config=host_config,
                stdin_open=fd is not None,
            )
            with handle.lock:
                handle.container = str(created["Id"])
                cancelled = handle.cancelled
            if cancelled:
                return
            # One attach, before starting, as 'docker run' does: attaching to a container that has already exited
            # waits for a start that never comes, so the stream holds everything from the first byte. Its socket
            # carries the output and, when the launcher waits for its run id, the container's stdin. (Not
            # api.attach: it inspects the container first, to know whether it has a tty; it has none.)
            params = {"stdout": 1, "stderr": 1, "stream": 1, "logs": 1, **({"stdin": 1} if fd is not None else {})}
            handle.stream = api.attach_socket(handle.container, params=params)  # keeps its HTTP response alive
            raw = getattr(handle.stream, "_sock", handle.stream)
            raw.settimeout(None)  # a step may print nothing for hours
            threading.Thread(target=self._follow, args=(handle, raw), daemon=True).start()
            stdin = raw if fd is not None else None
            api.start(handle.container)
        finally:
            handle.ready.set()
            if fd is not None:
                self._hand_run_id(fd, stdin)

    @staticmethod
    def _hand_run_id(fd: int, stdin: socket.socket | None) -> None:
        """Pass the step's MLflow run id from the runner's pipe to the container's stdin, then close that (the
        attach socket's writing half: its output goes on). The container was started meanwhile: creating the
        run overlaps its start, as with a local step. Without an id (the run could not be created) the launcher
        gets an empty stdin and exits without running."""
        run_id = AttemptBackend._read_run_id(fd)
        if stdin is None:
            return
        with contextlib.suppress(OSError):  # the container is gone already (cancelled, or it failed)
            if run_id:
                stdin.sendall(run_id.encode() + b"\n")
            stdin.shutdown(socket.SHUT_WR)

    def _follow(self, handle: DockerHandle, raw: socket.socket) -> None:
        """Stream the container's stdout and stderr (frames of the attach socket) into the run's log files as
        they come."""
        from docker.utils.socket import STDERR, frames_iter

        task = handle.task
        lines = {which: self.lines(task.address, which) for which in ("stdout", "stderr")}
        try:
            with open(task.stdout, "ab") as out, open(task.stderr, "ab") as err:
                for stream, data in frames_iter(raw, tty=False):
                    fh, which = (err, "stderr") if stream == STDERR else (out, "stdout")
                    fh.write(data)
                    fh.flush()
                    lines[which].feed(data)
        except Exception:  # the container went away: what was read is in the files
            pass
        finally:
            with contextlib.suppress(Exception):
                lines["stdout"].close()
                lines["stderr"].close()
            with contextlib.suppress(Exception):
                raw.close()
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
            raw = getattr(handle.stream, "_sock", handle.stream)
            with contextlib.suppress(Exception):  # never hang on a stream the engine did not close
                raw.shutdown(socket.SHUT_RDWR)  # wakes the follower, which closes it
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

    def recover(self, run_id: str) -> list[str]:
        """Before a run resumes: stop and remove every step container of run ``run_id`` still there (found by
        label: a killed driver left them running, or exited but not removed), so that a step never has two
        containers at once (two writers on one data volume). Returns their names.

        They are stopped, not adopted: the killed driver's log follower died with it (the output since is not
        in the run's files), its MLflow run was closed KILLED by the resume, and a step is re-run from its
        start everywhere else too (a local step's orphan process is stopped likewise)."""
        api = self.client.api
        wanted = [f"{LABEL_MANAGED}=true", f"{LABEL_APP}={self.app}", f"{LABEL_ROLE}=step", f"{LABEL_RUN}={run_id}"]
        found = api.containers(all=True, filters={"label": wanted})
        for container in found:
            with contextlib.suppress(Exception):  # gone meanwhile
                api.stop(container["Id"], timeout=STOP_GRACE)
            with contextlib.suppress(Exception):
                api.remove_container(container["Id"], force=True)
        return sorted(str(c["Names"][0]).lstrip("/") for c in found if c.get("Names"))

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
