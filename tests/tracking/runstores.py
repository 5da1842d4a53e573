"""Real MLflow stores for the run browser's tests: a SQLite file and a live ``mlflow server`` on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# MLflow refuses HTML in param and metric names, so the HTML is in a param value, a tag value, the run's name
# and an artifact's file name.
HTML_PARAM = "html note"
HTML_VALUE = "<img src=x onerror=alert(1)>"
HTML_ARTIFACT = "<img src=x onerror=alert(2)>.html"
WIDE_METRICS = 3000


def png(width: int = 2, height: int = 2) -> bytes:
    """A tiny valid PNG (red pixels), written without an image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\xff\0\0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@dataclass
class Populated:
    uri: str
    experiment: str
    empty: str
    runs: list[str] = field(default_factory=list)  # the 24 plain runs, oldest first
    parent: str = ""
    children: list[str] = field(default_factory=list)
    wide: str = ""
    html: str = ""


def populate(uri: str, tmp: Path) -> Populated:
    """24 runs with params p0 (0-3), model (a/b), metrics acc (all) and loss (even runs only), statuses
    FINISHED/FAILED, one per minute; a parent with two child runs; a run with 3,000 metric keys; a run whose
    param names and artifact names hold HTML, with text, CSV and PNG artifacts; and an empty experiment."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    # A server puts artifacts where it was told (under tmp too); a SQLite store would put them under ./mlruns.
    served = uri.startswith("http")
    exp = client.create_experiment("browse", artifact_location=None if served else (tmp / "art").as_uri())
    empty = client.create_experiment("nothing-here", artifact_location=None if served else (tmp / "empty").as_uri())
    out = Populated(uri, exp, empty)
    base = 1_700_000_000_000
    for i in range(24):
        run = client.create_run(
            exp, run_name=f"run-{i:02d}", start_time=base + i * 60_000, tags={"team": "ml" if i % 2 else "ops"}
        )
        metrics = [Metric("acc", round(0.5 + i / 50, 3), base, 0)]
        if i % 2 == 0:
            metrics.append(Metric("loss", round(1.0 - i / 30, 3), base, 0))
        params = [Param("p0", str(i % 4)), Param("model", "a" if i < 12 else "b")]
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        client.set_terminated(
            run.info.run_id, "FAILED" if i % 5 == 0 else "FINISHED", end_time=base + i * 60_000 + 1500
        )
        out.runs.append(run.info.run_id)
    parent = client.create_run(exp, run_name="parent", start_time=base + 30 * 60_000)
    out.parent = parent.info.run_id
    for j in range(2):
        child = client.create_run(
            exp, run_name=f"child-{j}", start_time=base + (31 + j) * 60_000, tags={"mlflow.parentRunId": out.parent}
        )
        client.log_batch(child.info.run_id, metrics=[Metric("acc", 0.1 * j, base, 0)])
        client.set_terminated(child.info.run_id, "FINISHED")
        out.children.append(child.info.run_id)
    client.set_terminated(out.parent, "FINISHED")
    wide = client.create_run(exp, run_name="wide", start_time=base + 40 * 60_000)
    for start in range(0, WIDE_METRICS, 1000):
        client.log_batch(
            wide.info.run_id, metrics=[Metric(f"m{k:04d}", k, base, 0) for k in range(start, start + 1000)]
        )
    # a long history: charts downsample it
    client.log_batch(wide.info.run_id, metrics=[Metric("curve", (s % 97) / 97, base, s) for s in range(1000)])
    client.set_terminated(wide.info.run_id, "FINISHED")
    out.wide = wide.info.run_id
    html = client.create_run(exp, run_name="<i>html</i>", start_time=base + 50 * 60_000)
    client.log_batch(
        html.info.run_id,
        params=[Param(HTML_PARAM, HTML_VALUE)],
        tags=[RunTag("note", "<u>tag</u>")],
        metrics=[Metric("acc", 0.4, base, 0)],
    )
    files = tmp / "files"
    files.mkdir(parents=True, exist_ok=True)
    (files / "notes.txt").write_text("first line\n<script>alert(4)</script>\n")
    (files / "table.csv").write_text("name,score\n<b>x</b>,1\ny,2\n")
    (files / "plot.png").write_bytes(png())
    (files / HTML_ARTIFACT).write_text("<h1>not rendered</h1>")
    for name in ("notes.txt", "table.csv", "plot.png", HTML_ARTIFACT):
        client.log_artifact(html.info.run_id, str(files / name))
    client.set_terminated(html.info.run_id, "FINISHED")
    out.html = html.info.run_id
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a SQLite backend and local artifacts, in its own process group.

    ``jobs``: run MLflow's background job consumers (huey workers for GenAI jobs, a process each). Tracking
    does not need them, and without them the server starts and stops in seconds instead of tens of seconds
    on two busy cores."""

    def __init__(
        self,
        folder: Path,
        port: int | None = None,
        *,
        jobs: bool = False,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.jobs = jobs
        self.args = args  # more options (``--app-name basic-auth``)
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> MlflowServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        mlflow = str(Path(sys.executable).with_name("mlflow"))
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [mlflow, "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{self.folder / 'server.db'}",
             "--artifacts-destination", str(self.folder / "artifacts"), *self.args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "MLFLOW_TRACKING_URI": "", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": str(self.jobs).lower(),
                 **self.env},
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(self.folder / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer on {self.uri} within {timeout} s")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after ``grace`` seconds (0: at once, a crash)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
            try:
                self.process.wait(grace if grace > 0 else 20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


class LoopbackProxy:
    """A TCP forwarder on 127.0.0.1 in front of a server, that a test can cut and restore on the same port.

    Cut, the port refuses connections and every open connection drops, which is what a client sees when the
    server's process is killed; restored, it forwards again. A test that needs a tracking server to go away
    and come back starts ``mlflow server`` once (about 10 s) instead of twice."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> LoopbackProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        listener.settimeout(0.1)  # the accept loop notices a cut within 0.1 s
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(src, dst)

    def _drop(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            with self._lock:
                self._open.discard(sock)

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown first: a close alone leaves the port listening until the accept in progress returns
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            open_now = list(self._open)
        self._drop(*open_now)

    def restore(self) -> None:
        self.start()


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["run_id"] for r in rows]
