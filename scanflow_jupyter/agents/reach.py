"""Is the tracker there? A quick check before an agent talks to an MLflow tracking server.

MLflow's HTTP client retries a request it cannot send (a name that does not resolve, a refused connection) with
exponential backoff for minutes (``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` and ``..._BACKOFF_FACTOR``; 120 s per
attempt, ``MLFLOW_HTTP_REQUEST_TIMEOUT``). Those settings are environment variables that MLflow reads on every
request, for every thread: lowering them for the agents would lower them for the notebook's own MLflow calls and
for the steps the agents start too. So an agent checks the server itself, in seconds, before it queries:

- the host name is resolved in a thread of its own, for at most ``timeout`` seconds (a resolver that hangs, as
  Docker's does on a network that lost its DNS, cannot hold the agent);
- a TCP connection to the server's port (or to the proxy that ``HTTP_PROXY``/``HTTPS_PROXY`` name for it) must open
  within ``timeout`` seconds.

A failure is a :class:`~scanflow_jupyter.errors.TrackerUnreachableError` that names the address, what failed and
what to check. :class:`Reachability` remembers it and checks again with backoff (1, 2, 4, ... seconds, at most
``most``), raising the remembered error at once in between, so a tracker that is down costs an agent nothing per
tick. Stores that are not HTTP servers (SQLite, PostgreSQL, a folder) are not checked.

What it cannot catch: a request already under way when the tracker goes away waits out MLflow's own retries
(it succeeds once the tracker is back). ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` set lower in the environment of an
agent's process bounds that too, for every MLflow call of the process.

Example
-------
>>> Reachability("http://no-such-host:5000").require("agent 'planner'")        # doctest: +SKIP
Traceback (most recent call last):
TrackerUnreachableError: agent 'planner' cannot reach its MLflow tracker http://no-such-host:5000: the name ...
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import TrackerUnreachableError
from .deadline import call_within

__all__ = ["Reachability", "TrackerState", "check_tracker"]

CHECK_TIMEOUT = 3.0  # seconds for the name to resolve, and again for the connection to open
TRUSTED_FOR = 1.0  # a check that passed is trusted this long (no connection per MLflow call of one reading)


def _target(uri: str) -> tuple[str, int, str] | None:
    """``(host, port, via)`` to connect to for the HTTP tracker ``uri`` (``via`` names a proxy, or is empty); None
    for a store that is not an HTTP server."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if via.hostname:
            return via.hostname, via.port or 80, f" through the proxy {via.hostname}:{via.port or 80}"
    return host, port, ""


def _resolve(host: str, port: int, timeout: float) -> list[Any]:
    """``getaddrinfo`` with a deadline (a resolver that hangs raises TimeoutError after ``timeout`` seconds)."""
    return call_within(timeout, lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


def check_tracker(uri: str, who: str = "this agent", *, timeout: float = CHECK_TIMEOUT) -> None:
    """Raise :class:`~scanflow_jupyter.errors.TrackerUnreachableError` unless the HTTP tracking server ``uri``
    resolves and accepts a connection, each within ``timeout`` seconds (at most twice ``timeout`` in all). ``who``
    starts the message ("agent 'planner'"). Other stores pass at once."""
    target = _target(uri)
    if target is None:
        return
    host, port, via = target
    where = f"{who} cannot reach its MLflow tracker {uri}{via}"
    settings = "the tracking URI (MLFLOW_TRACKING_URI, or the application's tracker.uri)"
    try:
        addresses = _resolve(host, port, timeout)
    except TimeoutError:
        raise TrackerUnreachableError(
            f"{where}: the name {host!r} did not resolve within {timeout:g} s. Check the network's name server and "
            f"that this machine (or container) is on the tracker's network",
            uri,
        ) from None
    except OSError as exc:
        raise TrackerUnreachableError(
            f"{where}: the name {host!r} does not resolve ({exc.strerror or exc}). Check the host name in "
            f"{settings}, and that this machine (or container) is on the tracker's network",
            uri,
        ) from None
    last: OSError | None = None
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
            return
        except OSError as exc:
            last = exc
    if isinstance(last, TimeoutError | socket.timeout):
        raise TrackerUnreachableError(
            f"{where}: {host}:{port} did not answer within {timeout:g} s. Check that the tracker is up and that "
            "no firewall drops the connection",
            uri,
        ) from None
    if isinstance(last, ConnectionRefusedError):
        raise TrackerUnreachableError(
            f"{where}: {host}:{port} refuses connections (nothing listens there). Check that the tracking server "
            f"is running (mlflow server --host 0.0.0.0 --port {port}) and that the port in {settings} is its port",
            uri,
        ) from None
    reason = (last.strerror or str(last)) if last is not None else "no address"
    raise TrackerUnreachableError(
        f"{where}: {host}:{port} cannot be reached ({reason}). Check the network between this machine and the "
        f"tracker, and {settings}",
        uri,
    ) from None


@dataclass(frozen=True)
class TrackerState:
    """What an agent knows of its tracker: ``reachable`` (None before the first check), the error of the last
    failed check, how many checks in a row failed, and when it checks again."""

    uri: str
    reachable: bool | None
    error: str
    failures: int
    retry_at: float | None


class Reachability:
    """Checks the tracker ``uri`` before an agent uses it (see the module's text): a passed check is trusted for
    ``trusted_for`` seconds; after a failed one, the error is raised again at once until the next check is due,
    ``first`` seconds later, doubling after each failure in a row up to ``most``. Thread-safe."""

    def __init__(
        self,
        uri: str,
        *,
        timeout: float = CHECK_TIMEOUT,
        trusted_for: float = TRUSTED_FOR,
        first: float = 1.0,
        most: float = 60.0,
    ) -> None:
        self.uri = uri
        self.timeout = timeout
        self.trusted_for = trusted_for
        self.first = first
        self.most = most
        self.checked = _target(uri) is not None  # only HTTP servers are checked
        self._lock = threading.Lock()
        self._ok_until = 0.0
        self._error: TrackerUnreachableError | None = None
        self._failures = 0
        self._retry_at = 0.0

    def require(self, who: str = "this agent", *, fresh: bool = False) -> None:
        """Return when the tracker is (or was just seen) reachable; raise the remembered or a new
        :class:`~scanflow_jupyter.errors.TrackerUnreachableError` otherwise. ``fresh``: check now even if a check
        passed a moment ago (what an agent does before each reading). One check runs at a time: callers that come
        during it wait for its outcome."""
        if not self.checked:
            return
        with self._lock:
            now = time.monotonic()
            if now < self._ok_until and not fresh:
                return
            if self._error is not None and now < self._retry_at:
                raise self._error.with_traceback(None)  # the same error, without piling up tracebacks
            try:
                check_tracker(self.uri, who, timeout=self.timeout)
            except TrackerUnreachableError as exc:
                self._failures += 1
                self._error = exc
                self._retry_at = time.monotonic() + self.delay(self._failures)
                raise
            self._error, self._failures, self._retry_at = None, 0, 0.0
            self._ok_until = time.monotonic() + self.trusted_for

    def delay(self, failures: int) -> float:
        """Seconds before the next check after ``failures`` failed checks in a row."""
        return float(min(self.most, self.first * 2 ** max(0, failures - 1)))

    def forget(self) -> None:
        """Check again at the next call (after a fix, say)."""
        with self._lock:
            self._ok_until, self._retry_at = 0.0, 0.0

    def state(self) -> TrackerState:
        """What the last check found (``retry_at`` as a wall-clock time)."""
        with self._lock:
            if self._error is not None:
                retry = time.time() + max(0.0, self._retry_at - time.monotonic())
                return TrackerState(self.uri, False, str(self._error), self._failures, retry)
            return TrackerState(self.uri, True if self._ok_until else None, "", 0, None)
