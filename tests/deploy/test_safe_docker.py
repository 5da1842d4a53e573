"""The safe defaults on a real engine (issue 15): a served model is reachable from this machine only, a pip
index password leaves no trace in any layer nor in ``docker history``, and the build context follows the
.dockerignore rules of Docker's own client.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanflow_jupyter.deploy.docker import DockerApp
from scanflow_jupyter.deploy.docker.dockerfile import BuildContext, dockerignore
from scanflow_jupyter.workflow import load

from .conftest import BASE_IMAGE, copy_tabular, with_service
from .test_safe import FILES, TABLE, folder_with

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def non_loopback_addresses(bridges: bool = True) -> list[str]:
    """This machine's IPv4 addresses but loopback: its network interfaces and, with ``bridges``, the engines'
    bridges (which come and go as tests create networks)."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
    found = [
        line.split()[3].split("/")[0]
        for line in out.splitlines()
        if bridges or not Path("/sys/class/net", line.split()[1], "bridge").exists()
    ]
    found = [a for a in found if not a.startswith("127.")]
    assert found, out
    return found


def answers(address: str, port: int) -> bool | None:
    """Whether something accepts a connection on ``address:port``: False when refused, None when the address is gone
    (a bridge of another engine on this machine, removed since it was listed)."""
    try:
        socket.create_connection((address, port), timeout=10).close()
    except ConnectionRefusedError:
        return False
    except OSError:
        if address in non_loopback_addresses():
            raise
        return None
    return True


@pytest.mark.timeout(900)
def test_a_served_model_is_not_reachable_on_a_non_loopback_address(engine: Any, tmp_path: Path) -> None:
    import mlflow
    from sklearn.linear_model import LogisticRegression

    port = free_port()
    app = with_service(load(copy_tabular(tmp_path / "tabular")), port=port)
    app.name = "sf-publish"
    deployment = DockerApp(app, base_image=BASE_IMAGE, client=engine)
    previous = os.environ.get("MLFLOW_TRACKING_URI")  # None: unset again afterwards
    try:
        mlflow.set_tracking_uri(deployment.start())
        rows = [[0.1, 0.2, 0.3, 0.4, 0.5], [1.0, -1.0, 0.5, 0.0, 2.0]]
        with mlflow.start_run(run_name="register"):
            model = LogisticRegression().fit(rows * 2, [0, 1, 0, 1])
            mlflow.sklearn.log_model(model, name="model", registered_model_name="tabular-linear")
        endpoint = deployment.serve("predictor")
        assert endpoint.url == f"http://127.0.0.1:{port}"
        assert deployment.predict("predictor", rows) == [0, 1]  # this machine reaches it on loopback
        bindings = engine.containers.get(endpoint.name).attrs["NetworkSettings"]["Ports"][f"{port}/tcp"] or []
        assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
        addresses = non_loopback_addresses()
        assert [a for a in addresses if answers(a, port)] == []  # nobody else does

        # The check can fail: published on every interface, the machine's own addresses reach it. (A bridge of
        # another test's network, being created or removed meanwhile, may refuse: it is not asked.)
        opened = free_port()
        deployment.serve("predictor", port=opened, publish="0.0.0.0")
        reached = {a: answers(a, opened) for a in non_loopback_addresses(bridges=False)}
        assert all(reached.values()), reached
        assert deployment.predict("predictor", rows, port=opened) == [0, 1]
    finally:
        mlflow.set_tracking_uri(previous)
        deployment.cleanup()


def is_tar(data: bytes) -> bool:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*"):
            return True
    except tarfile.TarError:
        return False


def is_empty_tar(data: bytes) -> bool:
    return len(data) >= 1024 and not data.strip(b"\0")  # a layer with no file: the end-of-archive blocks only


def layer_files(image: Any, tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, content) of every file of every layer of ``image`` (as ``docker save`` writes it), and of the
    files beside them (the image's config, its manifest)."""
    archive = tmp_path / "image.tar"
    with open(archive, "wb") as fh:
        for chunk in image.save(named=True):
            fh.write(chunk)
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()  # type: ignore[union-attr]
            if is_empty_tar(data):
                yield f"{member.name}:", b""
                continue
            if not is_tar(data):  # the config, the manifest, the index
                yield member.name, data
                continue
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as inner:
                yield f"{member.name}:", b""  # a layer
                for file in inner.getmembers():
                    handle = inner.extractfile(file) if file.isfile() else None
                    yield f"{member.name}:{file.name}", (handle.read() if handle else file.linkname.encode())


@pytest.mark.timeout(900)
def test_a_pip_index_password_and_the_ca_bundle_leave_no_trace_in_layers_or_history(
    engine: Any, tmp_path: Path
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    # This machine's bundle (pip needs its roots to reach the index), with a line of its own: PEM readers skip it.
    marker = f"ca-{uuid.uuid4().hex}"
    machine = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(machine.read_text() + f"# {marker}\n")
    folder = tmp_path / "secretive"
    folder.mkdir()
    spec = {"scanflow": 1, "name": "sf-secret", "requirements": "requirements.txt"}
    spec["workflows"] = [{"name": "main", "nodes": [{"name": "a", "script": "step.py"}]}]
    (folder / "scanflow.yaml").write_text(yaml.safe_dump(spec))
    (folder / "step.py").write_text("print('a')\n")
    (folder / "requirements.txt").write_text("iniconfig\n")  # small, and not among MLflow's own
    index = f"https://scanflow:{password}@pypi.org/simple"
    deployment = DockerApp(load(folder), base_image=BASE_IMAGE, pip_index_url=index, ca_bundle=bundle, client=engine)
    events: list[Any] = []
    try:
        image_name = deployment.build(on_event=events.append, tracker=False)["a"]
        log = "\n".join(e.line for e in events)
        assert "Looking in indexes: https://scanflow:****@pypi.org/simple" in log, log  # pip used it, masked
        assert password not in log

        history = subprocess.run(["docker", "history", "--no-trunc", image_name], capture_output=True, text=True)
        assert history.returncode == 0, history.stderr
        assert "pip install -r /opt/scanflow/requirements.txt" in history.stdout  # the RUN line is there...
        assert password not in history.stdout and "PIP_INDEX_URL" not in history.stdout  # ...not the index
        assert marker not in history.stdout and "extra-ca" not in history.stdout and "PIP_CERT" not in history.stdout

        image = engine.images.get(image_name)
        files = dict(layer_files(image, tmp_path))
        layers = [name for name in files if name.endswith(":")]
        assert len(layers) == len(set(image.attrs["RootFS"]["Layers"]))  # every layer was read (same ones once)
        assert any(name.endswith("/iniconfig/__init__.py") for name in files)  # what pip installed is in one
        assert [name for name, data in files.items() if password.encode() in data or marker.encode() in data] == []
        # No bundle file in any layer, the shared runtime's included (built with this machine's bundle, PIP_CERT).
        assert not any(name.endswith(("scanflow-pip.conf", "scanflow-ca.crt", "extra-ca.crt")) for name in files)
        env = image.attrs["Config"]["Env"]
        assert not [v for v in env if v.startswith(("PIP_CERT=", "SSL_CERT_FILE=", "REQUESTS_CA_BUNDLE="))], env
        # Nor in any image the engine holds: the intermediate ones of the build, their configs and histories.
        for each in engine.images.list(all=True):
            text = json.dumps(each.attrs) + json.dumps(each.history())
            assert password not in text and marker not in text
    finally:
        deployment.cleanup()


def docker_context(folder: Path, tmp_path: Path) -> set[str]:
    """The files Docker's own client sends as the build context of ``folder`` (its .dockerignore applied)."""
    dockerfile = tmp_path / "Dockerfile.list"
    dockerfile.write_text(f"FROM {BASE_IMAGE}\nCOPY . /ctx\nRUN cd /ctx && find . -type f > /files.txt\n")
    tag = f"scanflow-test/context:{uuid.uuid4().hex[:12]}"
    env = {"DOCKER_BUILDKIT": "0"}  # the classic builder, as the docker SDK's builds (no buildx needed)
    build = subprocess.run(
        ["docker", "build", "-q", "-t", tag, "-f", str(dockerfile), str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert build.returncode == 0, build.stderr
    try:
        listed = subprocess.run(["docker", "run", "--rm", tag, "cat", "/files.txt"], capture_output=True, text=True)
        assert listed.returncode == 0, listed.stderr
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    return {line.removeprefix("./") for line in listed.stdout.split()} - {".dockerignore"}


@pytest.mark.timeout(600)
def test_the_build_context_has_the_files_of_dockers_own_client(engine: Any, tmp_path: Path) -> None:
    for i, (patterns, _left_out) in enumerate(TABLE):
        app = folder_with(tmp_path / f"app{i}", FILES, patterns)
        assert app.folder is not None
        ours = BuildContext()
        ours.add_tree(app.folder, "", dockerignore(app.folder))
        assert set(ours.files) - {".dockerignore"} == docker_context(app.folder, tmp_path), patterns
