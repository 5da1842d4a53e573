"""Agents fail fast on a tracker they cannot reach: a name that does not resolve and a port nothing listens on are
reported in seconds (MLflow's own HTTP retries take minutes), naming the address and what to check; the loop goes
on, checks again with backoff, and reads again once the tracker is back. Real names, real sockets."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from scanflow_jupyter.agents import Agent, Context, MlflowRuns, Sensor
from scanflow_jupyter.agents.reach import Reachability
from scanflow_jupyter.errors import TrackerUnreachableError

from .conftest import wait_until

REPORT_WITHIN = 15.0  # what the test waits at most for the report (the agent's own bound is 2 x 3 s)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def listening(port: int = 0) -> Iterator[int]:
    """A loopback server that accepts (and closes) connections on ``port`` (any free one by default) while the
    block runs; afterwards the port refuses them."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(16)
    sock.settimeout(0.05)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            conn.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        done.set()
        server.join()
        sock.close()


def watching(uri: str) -> tuple[Agent, threading.Event]:
    """An agent querying the MLflow tracker ``uri`` every 0.2 s, and an event set when it reports an error."""
    agent = Agent("watch", sensors=[MlflowRuns("runs")], rules=[], tracking_uri=uri, state_dir=False, interval=0.2)
    reported = threading.Event()
    agent.listeners.append(lambda what: reported.set() if what == "error" else None)
    return agent, reported


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "http://no-such-host:5000",
            r"agent 'watch' cannot reach its MLflow tracker http://no-such-host:5000: the name 'no-such-host' does "
            r"not resolve \(.+\)\. Check the host name in the tracking URI \(MLFLOW_TRACKING_URI, or the "
            r"application's tracker\.uri\), and that this machine \(or container\) is on the tracker's network\. Its "
            r"sensor 'runs' waits for it; the agent goes on and checks again",
        ),
        (
            "http://127.0.0.1:{port}",
            r"agent 'watch' cannot reach its MLflow tracker http://127\.0\.0\.1:{port}: 127\.0\.0\.1:{port} refuses "
            r"connections \(nothing listens there\)\. Check that the tracking server is running \(mlflow server "
            r"--host 0\.0\.0\.0 --port {port}\) and that the port in the tracking URI .* is its port\. Its sensor "
            r"'runs' waits for it",
        ),
    ],
    ids=["name-does-not-resolve", "port-refuses"],
)
def test_an_unreachable_tracker_is_reported_in_seconds_and_the_loop_goes_on(uri: str, message: str) -> None:
    port = closed_port()
    uri, message = uri.replace("{port}", str(port)), message.replace("{port}", str(port))
    agent, reported = watching(uri)
    agent.start()
    assert reported.wait(REPORT_WITHIN), f"no error reported within {REPORT_WITHIN:g} s: {agent.status()}"
    assert len(agent.errors) == 1
    with pytest.raises(TrackerUnreachableError):
        agent.ctx.require_tracker()  # the remembered error, at once
    assert re.fullmatch(message + r".*", agent.errors[0]), agent.errors[0]
    ticks = agent.ticks
    wait_until(lambda: agent.ticks >= ticks + 5, 30, "five more ticks")  # the loop goes on
    assert agent.state == "running" and len(agent.errors) == 1  # reported once while it stays down
    retries = [e.text for e in agent.history() if e.kind == "retry"]
    assert retries[0] == f"tracker {uri}: check 1 failed; the next in 1 s", retries
    agent.stop()


def test_checks_back_off_and_a_tracker_that_comes_back_is_read_again() -> None:
    class Probe(Sensor):
        """Reads nothing but says it needs the tracker (what an MLflow query sensor says), so no MLflow server is
        needed to see the agent stop and start reading."""

        needs_tracker = True

        def __init__(self) -> None:
            super().__init__("probe")
            self.reads = 0

        def measure(self, ctx: Context) -> Any:
            self.reads += 1
            return {"reads": self.reads}

    with listening() as port:
        probe = Probe()
        agent = Agent("watch", sensors=[probe], rules=[], tracking_uri=f"http://127.0.0.1:{port}", state_dir=False,
                      interval=0.05)  # fmt: skip
        agent.ctx.reach.first = 0.1  # checks 0.1, 0.2, 0.4 ... s apart while it is down
        reported = threading.Event()
        agent.listeners.append(lambda what: reported.set() if what == "error" else None)
        agent.start()
        wait_until(lambda: probe.reads >= 3, 30, "readings while the tracker is up")
    # The tracker went away: reported, and no reading until it is back.
    assert reported.wait(REPORT_WITHIN)
    assert "refuses connections" in agent.errors[-1]
    wait_until(lambda: agent.ctx.reach.state().failures >= 3, 30, "three failed checks")
    reads = probe.reads
    with listening(port):
        wait_until(lambda: probe.reads > reads, 30, "a reading once the tracker is back")
        wait_until(lambda: any(e.text.endswith("reachable again") for e in agent.history()), 30, "the note")
        agent.stop()
    failed = [e.text for e in agent.history() if e.kind == "retry" and "failed" in e.text]
    assert failed[:3] == [
        f"tracker http://127.0.0.1:{port}: check 1 failed; the next in 0.1 s",
        f"tracker http://127.0.0.1:{port}: check 2 failed; the next in 0.2 s",
        f"tracker http://127.0.0.1:{port}: check 3 failed; the next in 0.4 s",
    ]
    assert agent.ctx.reach.state().reachable is True


def test_backoff_doubles_up_to_a_minute_and_remembered_failures_cost_no_check() -> None:
    reach = Reachability(f"http://127.0.0.1:{closed_port()}", first=1.0, most=60.0)
    assert [reach.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    for _ in range(5):  # within the backoff: the remembered error, no new check
        with pytest.raises(TrackerUnreachableError, match="refuses connections"):
            reach.require()
    assert reach.state().failures == 1 and reach.state().reachable is False
    reach.forget()
    with pytest.raises(TrackerUnreachableError):
        reach.require()
    assert reach.state().failures == 2
    assert Reachability("sqlite:///x.db").checked is False  # only HTTP servers are checked
