"""The network sandboxes a run's step containers borrow: one idle container per step running at once, on the
application's network, whose network namespace a step joins (``network_mode="container:ID"``).

Starting a container on a user-defined network is most of its start-up: a veth pair, an address, the embedded
DNS server's rules in the new namespace (400-500 ms of a 600-800 ms step on a loaded 2-core machine). A step
that joins a sandbox's namespace skips all of it, and reaches the tracker and the services exactly as before
(``http://tracker:5000``, through the sandbox's DNS). A sandbox serves one step at a time: a step never shares its
ports or loopback with a step running beside it, only with the ones before it, whose processes are all gone.

A sandbox runs ``sleep infinity`` as the non-root user, with no capabilities, a read-only root and no published
port; it carries the run's labels, so :meth:`~.backend.DockerBackend.recover` and the application's clean-up find
it. The pool grows to the steps running at once (the run's workers) and is removed when the run ends.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

from ..container import UID
from .client import labels, object_name

if TYPE_CHECKING:
    import docker

ROLE = "sandbox"


class Sandboxes:
    """A pool of network sandboxes on ``network`` for the steps of application ``app``.

    Parameters
    ----------
    client: the engine.
    app: the application (labels, names).
    network: the application's network.
    image: an image every step image starts from (the shared runtime: it is on the engine).
    """

    def __init__(self, client: docker.DockerClient, app: str, network: str, image: str) -> None:
        self.client = client
        self.app = app
        self.network = network
        self.image = image
        self._free: list[str] = []
        self._all: list[str] = []
        self._lock = threading.Lock()

    def acquire(self, run_id: str) -> str:
        """A running sandbox no step uses (a new one if none is free); returns its id."""
        with self._lock:
            if self._free:
                return self._free.pop()
        return self._create(run_id)

    def release(self, sandbox: str) -> None:
        """Give ``sandbox`` back once its step's container has exited."""
        with self._lock:
            if sandbox in self._all and sandbox not in self._free:
                self._free.append(sandbox)

    def _create(self, run_id: str) -> str:
        import secrets

        api = self.client.api
        host_config = api.create_host_config(
            network_mode=self.network,
            cap_drop=["ALL"],
            read_only=True,
            security_opt=["no-new-privileges"],
        )
        created = api.create_container(
            self.image,
            ["sleep", "infinity"],
            name=object_name("scanflow", self.app, run_id, ROLE, secrets.token_hex(2)),
            user=str(UID),
            labels=labels(self.app, ROLE, run_id=run_id),
            host_config=host_config,
        )
        sandbox = str(created["Id"])
        with self._lock:
            self._all.append(sandbox)
        api.start(sandbox)
        return sandbox

    def close(self) -> None:
        """Remove every sandbox of the pool (its steps have exited)."""
        with self._lock:
            gone, self._all, self._free = self._all, [], []
        for sandbox in gone:
            with contextlib.suppress(Exception):  # removed already (the application's clean-up)
                self.client.api.remove_container(sandbox, force=True)
