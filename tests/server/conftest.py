"""A real Jupyter server on loopback with the extension enabled, serving a scratch root under ``tmp_path``:
requests go over HTTP with a token, as the labextension's do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TOKEN = "scanflow-test-token"
START_DEADLINE_S = 90.0


@dataclass
class Answer:
    status: int
    data: Any
    text: str


@dataclass
class Server:
    url: str
    root: Path
    proc: subprocess.Popen[str]

    def request(
        self,
        method: str,
        route: str,
        body: Any = None,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(f"{self.url}{route}", data=data, method=method)
        if token is not None:
            req.add_header("Authorization", f"token {token}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                text = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as err:
            text = err.read().decode()
            status = err.code
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return Answer(status, parsed, text)

    def get(self, route: str, **kwargs: Any) -> Answer:
        return self.request("GET", route, **kwargs)

    def post(self, route: str, body: Any, **kwargs: Any) -> Answer:
        return self.request("POST", route, body, **kwargs)

    def events(self, route: str, until: Callable[[str, Any], bool], timeout: float = 120.0) -> list[tuple[str, Any]]:
        """Read the server-sent events of ``route`` until ``until(event, data)`` holds or the stream ends."""
        req = urllib.request.Request(f"{self.url}{route}")
        req.add_header("Authorization", f"token {TOKEN}")
        seen: list[tuple[str, Any]] = []
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            event = ""
            for raw in resp:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    seen.append((event, data))
                    if until(event, data) or event == "end":
                        break
        return seen


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("server")
    root = base / "root"
    root.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_DATA_DIR": str(base / "data"),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    cmd = [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.open_browser=False",
        "--ServerApp.jpserver_extensions={'scanflow_jupyter': True}",
        "--allow-root",
    ]
    log = open(base / "server.log", "w")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=base)
    srv = Server(f"http://127.0.0.1:{port}", root, proc)
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        if proc.poll() is not None:
            log.close()
            pytest.fail("jupyter server exited:\n" + (base / "server.log").read_text())
        try:
            if srv.get("/api/status").status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("jupyter server did not answer:\n" + (base / "server.log").read_text())
        time.sleep(0.2)
    yield srv
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
