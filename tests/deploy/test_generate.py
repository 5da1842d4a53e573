"""Generated Dockerfiles, compose files and stacks (golden files), content-addressed tags, Docker's naming
rules, the apt mirror, and a missing engine. No Docker engine needed.

Regenerate the golden files with ``SCANFLOW_UPDATE_GOLDEN=1 pytest tests/deploy/test_generate.py``.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.deploy.docker import compose
from scanflow_jupyter.deploy.docker.base_image import apt_mirror
from scanflow_jupyter.deploy.docker.client import check_image_name, check_object_name, connect
from scanflow_jupyter.deploy.docker.dockerfile import ImageOptions
from scanflow_jupyter.deploy.docker.images import plan
from scanflow_jupyter.errors import BackendUnavailableError, DockerNameError, PortInUseError
from scanflow_jupyter.workflow import load

from ..golden import check_golden
from .conftest import copy_tabular, with_service

GOLDEN = Path(__file__).parent / "golden"
PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def golden(name: str, text: str) -> None:
    check_golden(GOLDEN / name, text)


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return with_service(load(copy_tabular(tmp_path / "tabular")))


@pytest.fixture
def options(tmp_path: Path) -> ImageOptions:
    (tmp_path / "ca.pem").write_text(PEM)
    return ImageOptions(
        base_image="scanflow/debian-python:bookworm",
        ca_bundle=tmp_path / "ca.pem",
        pip_index_url="https://pypi.example.org/simple",
    )


def test_dockerfiles_match_golden_files(app: Any, options: ImageOptions) -> None:
    specs = {s.node: s for s in plan(app, options, "sha256:base", "3.17.2")}
    # Build order: the shared runtime first, the tracker last.
    assert list(specs) == [
        "runtime",
        "gather",
        "preprocess",
        "modeling/linear",
        "modeling/forest",
        "evaluate",
        "predictor",
        "tracker",
    ]
    for node, name in (
        ("runtime", "runtime"),
        ("gather", "step-gather"),
        ("modeling/linear", "step-linear"),
        ("tracker", "tracker"),
        ("predictor", "service"),
    ):
        golden(f"{name}.Dockerfile", specs[node].context.files["Dockerfile"][0].decode())
    # The CA bundle is in no context (a COPY would put it in a layer): it rides in the build arguments.
    assert all(b"MIIBfake" not in data for spec in specs.values() for data, _mode in spec.context.files.values())
    assert json.loads("".join(specs["runtime"].build_args.values()))["ca"] == PEM
    assert specs["runtime"].labels == {"scanflow.managed": "true", "scanflow.role": "runtime"}  # no app: shared
    gather = specs["gather"].context.files
    assert gather["app/steps/gather.py"][0] == (app.folder / "steps/gather.py").read_bytes()
    assert gather["requirements.txt"][0].decode().splitlines() == (app.folder / "requirements.txt").read_text().split()
    assert not any(p.startswith(("app/.scanflow", "app/work")) for p in gather)
    assert specs["gather"].labels["scanflow.app"] == "tabular"


def test_compose_and_stack_match_golden_files(app: Any) -> None:
    images = {
        node: f"scanflow/tabular-{node.replace('/', '-')}:golden"
        for node in ["tracker", "gather", "preprocess", "modeling/linear", "modeling/forest", "evaluate", "predictor"]
    }
    golden("compose.yaml", compose.compose_file(app, images))
    golden("stack.yaml", compose.stack_file(app, images))


def test_tags_are_content_addressed(tmp_path: Path, options: ImageOptions) -> None:
    folder = copy_tabular(tmp_path / "tabular")

    def tags(base: str = "sha256:base", mlflow: str = "3.17.2") -> dict[str, str]:
        return {s.node: s.tag for s in plan(load(folder), options, base, mlflow)}

    def app_tags(**kwargs: str) -> set[str]:
        return {tag for node, tag in tags(**kwargs).items() if node != "runtime"}

    first = tags()
    assert tags() == first  # same inputs, same tags
    (folder / "work").mkdir()
    (folder / "work" / "out.csv").write_text("a,b\n")  # shared data and run state are not in images
    (folder / ".scanflow").mkdir(exist_ok=True)
    (folder / ".scanflow" / "x").write_text("state")
    assert tags() == first
    (folder / "steps" / "gather.py").write_text((folder / "steps" / "gather.py").read_text() + "\n# changed\n")
    changed = tags()
    assert changed != first and len(set(changed.values())) == len(changed)  # one image per executor
    assert changed["runtime"] == first["runtime"] and changed["tracker"] == first["tracker"]
    (folder / "requirements.txt").write_text("scikit-learn\n")
    steps = {n: t for n, t in tags().items() if n not in ("runtime", "tracker")}
    assert set(steps.values()).isdisjoint(changed.values())  # new requirements: every step image is new
    assert app_tags(base="sha256:other").isdisjoint(app_tags())  # a rebuilt base: every image is new
    assert app_tags(mlflow="3.18.0").isdisjoint(app_tags())  # another MLflow too


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("My App!", check_object_name),
        ("-lead", check_object_name),
        ("Scanflow/Tabular:1", check_image_name),
        ("scanflow/tabular:bad tag", check_image_name),
    ],
)
def test_names_docker_refuses_are_named_with_the_fix(name: str, check: Any) -> None:
    with pytest.raises(DockerNameError, match=rf"{name!r}".replace("(", r"\(") + r".* is not valid for Docker"):
        check(name)


def test_an_invalid_application_name_is_refused_before_docker(tmp_path: Path) -> None:
    from scanflow_jupyter.deploy.docker import DockerApp

    app = load(copy_tabular(tmp_path / "tabular"))
    app.name = "tabular app"
    with pytest.raises(DockerNameError, match="Application name 'tabular app' is not valid for Docker"):
        DockerApp(app)


def test_no_daemon_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(BackendUnavailableError, match=r"No Docker engine is reachable .*dockerd"):
        connect()


def test_a_port_in_use_is_refused_before_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scanflow_jupyter.deploy.docker import DockerApp

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")  # checked before any engine is asked
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        deployment = DockerApp(with_service(load(copy_tabular(tmp_path / "tabular")), port=port))
        with pytest.raises(
            PortInUseError, match=rf"Port {port} is already in use on this machine.* for service 'predictor'.*port=N"
        ):
            deployment.serve("predictor")


def test_apt_mirror_is_read_from_the_apt_sources(tmp_path: Path) -> None:
    (tmp_path / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n"
    )
    (tmp_path / "old.list").write_text("# comment\ndeb [arch=amd64] http://old.example/debian bullseye main\n")
    assert apt_mirror("bookworm", [tmp_path]) == "http://mirror.example/debian"
    assert apt_mirror("bullseye", [tmp_path]) == "http://old.example/debian"
    with pytest.raises(Exception, match=r"No apt source for Debian 'trixie'.*--mirror"):
        apt_mirror("trixie", [tmp_path])


def test_tracker_command_serves_artifacts_from_volumes() -> None:
    cmd = compose.tracker_command("tabular")
    assert cmd[cmd.index("--backend-store-uri") + 1] == "sqlite:////mlflow/db/mlflow.db"
    assert "--serve-artifacts" in cmd
    assert set(compose.tracker_volumes("tabular").values()) == {"/mlflow/db", "/mlflow/artifacts"}


def test_cli_without_an_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanflow_jupyter.cli import main

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    folder = copy_tabular(tmp_path / "tabular")
    result = CliRunner().invoke(main, ["docker", "status", str(folder)])
    assert result.exit_code == 2
    assert "error: No Docker engine is reachable" in result.output and "dockerd" in result.output


def test_an_executors_own_dockerfile_is_honoured(tmp_path: Path, options: ImageOptions) -> None:
    folder = copy_tabular(tmp_path / "tabular")
    (folder / "Dockerfile.gather").write_text("FROM scanflow/debian-python:bookworm\nCOPY . /app\n")
    app = load(folder)
    app.workflow().find("gather").dockerfile = "Dockerfile.gather"  # type: ignore[union-attr]
    specs = {s.node: s for s in plan(app, options, "sha256:base", "3.17.2")}
    gather = specs["gather"]
    assert (gather.custom, gather.dockerfile) == (True, "Dockerfile.gather")
    assert "steps/gather.py" in gather.context.files and "launch.py" not in gather.context.files  # the folder as is
    assert not specs["preprocess"].custom
    before = gather.tag
    (folder / "Dockerfile.gather").write_text("FROM scanflow/debian-python:bookworm\nCOPY . /srv\n")
    assert {s.node: s for s in plan(app, options, "sha256:base", "3.17.2")}["gather"].tag != before
