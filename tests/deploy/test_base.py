"""The seam of the deployment backends (deploy/base.py): the three targets (Docker, Kubernetes, a swarm stack)
satisfy the ``Deployment`` protocol with the same parameters, defaults and types (mypy checks the same where
``%scanflow deploy`` makes them, in notebook/deploy.py), and share one status, one endpoint, one progress event
and one engine twin. No engine or cluster needed."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.deploy.base import (
    Deployed,
    DeployEvent,
    Deployment,
    DeployStatus,
    engine_twin,
    find_service,
)
from scanflow_jupyter.deploy.docker import DockerApp, SwarmApp
from scanflow_jupyter.deploy.kubernetes import KubernetesApp
from scanflow_jupyter.errors import BackendError
from scanflow_jupyter.workflow import Executor, load

from ..conftest import EXAMPLES
from .conftest import with_service

BACKENDS = [DockerApp, KubernetesApp, SwarmApp]
PROTOCOL = [name for name, member in vars(Deployment).items() if inspect.isfunction(member) and name[0] != "_"]


def test_the_protocol_is_what_the_issue_lists() -> None:
    assert sorted(PROTOCOL) == sorted(
        ["build", "start", "run", "serve", "status", "stop", "cleanup", "export", "tracker_uri"]
    )


def mismatches(backend: type, method: str) -> list[str]:
    """How ``backend.method`` differs from the protocol's: a parameter missing or of another kind, annotation
    or default; one more without a default (a caller typed with the protocol would not give it); another
    return type."""
    want = inspect.signature(getattr(Deployment, method))
    have = inspect.signature(getattr(backend, method))
    where = f"{backend.__name__}.{method}"
    mine = dict(have.parameters)
    found = []
    for name, param in want.parameters.items():
        got = mine.pop(name, None)
        if got is None:
            found.append(f"{where} has no parameter {name!r}")
            continue
        if got.kind != param.kind or got.annotation != param.annotation:
            found.append(
                f"{where}({name}): {got.kind.name} {got.annotation} instead of {param.kind.name} {param.annotation}"
            )
        if (got.default is inspect.Parameter.empty) != (param.default is inspect.Parameter.empty) or (
            param.default not in (inspect.Parameter.empty, Ellipsis) and got.default != param.default
        ):
            found.append(f"{where}({name}) defaults to {got.default!r} instead of {param.default!r}")
    found += [f"{where} needs {n!r}" for n, p in mine.items() if p.default is inspect.Parameter.empty]
    if have.return_annotation != want.return_annotation:
        found.append(f"{where} returns {have.return_annotation} instead of {want.return_annotation}")
    return found


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("method", PROTOCOL)
def test_each_backend_takes_what_the_protocol_takes(backend: type, method: str) -> None:
    assert mismatches(backend, method) == []


def test_the_check_catches_a_backend_that_drifts() -> None:
    """A backend whose ``start`` reports through another callback, whose ``run`` returns its own result and
    needs one more argument, and whose ``status`` has another type: each is caught."""

    class Drifted:
        def start(self, on_line: Any = None) -> str:
            return ""

        def run(self, workflow: str | None, engine: str, *, workers: int = 2) -> KubeRunResult:  # noqa: F821
            raise NotImplementedError

        def status(self) -> dict[str, str]:
            return {}

    assert mismatches(Drifted, "start") == ["Drifted.start has no parameter 'on_event'"]
    run = mismatches(Drifted, "run")
    assert "Drifted.run(workflow) defaults to <class 'inspect._empty'> instead of None" in run
    assert "Drifted.run(workers) defaults to 2 instead of 1" in run and "Drifted.run needs 'engine'" in run
    assert "Drifted.run returns KubeRunResult instead of RunResult" in run
    assert mismatches(Drifted, "status") == ["Drifted.status returns dict[str, str] instead of DeployStatus"]


def test_one_status_prints_the_same_on_every_backend() -> None:
    docker = DeployStatus(
        "tabular",
        "Docker",
        objects=[Deployed("container", "scanflow-tabular-tracker", "running", "tracker", "tracker")],
    )
    kube = DeployStatus(
        "tabular", "Kubernetes", "namespace ml", [Deployed("Deployment", "tabular-tracker", "1/1 ready")]
    )
    assert str(docker) == "application 'tabular' on Docker:\n  container scanflow-tabular-tracker (tracker): running"
    assert str(kube) == "application 'tabular' on Kubernetes (namespace ml):\n  Deployment tabular-tracker: 1/1 ready"
    assert str(DeployStatus("tabular", "Docker")) == "application 'tabular' on Docker:\n  nothing"
    assert docker.names("container") == ["scanflow-tabular-tracker"] and not docker.of("image")


def test_a_service_is_found_by_address_or_name(tmp_path: Path) -> None:
    app = with_service(load(EXAMPLES / "tabular"))
    assert find_service(app, "predictor")[0] == "predictor"
    with pytest.raises(BackendError, match=r"No service 'nope' in application 'tabular'; its services: predictor\."):
        find_service(app, "nope")


def test_the_twin_is_tracked_by_the_deployment_and_stamped(tmp_path: Path) -> None:
    app = load(EXAMPLES / "tabular")
    twin, executors = engine_twin(app, "pipeline", "http://127.0.0.1:5001", lambda a: {"SCANFLOW_IMAGE": f"img/{a}"})
    assert twin is not app and twin.folder == app.folder
    assert twin.tracker is not None and twin.tracker.uri == "http://127.0.0.1:5001"
    assert set(executors) == {"gather", "preprocess", "modeling/linear", "modeling/forest", "evaluate"}
    assert all(isinstance(n, Executor) and n.env["SCANFLOW_IMAGE"] == f"img/{a}" for a, n in executors.items())
    # The application itself is untouched: its next local run is not the backend's.
    assert all("SCANFLOW_IMAGE" not in n.env for n in app.workflow("pipeline").leaves().values())
    untracked, _ = engine_twin(app, "pipeline", None, lambda a: {})
    assert untracked.tracker == app.tracker


def test_a_progress_event_is_not_an_image_event() -> None:
    event = DeployEvent.progress("applied Namespace ml")
    assert (event.status, event.line, event.image) == ("progress", "applied Namespace ml", "")


def test_a_swarm_refuses_a_batch_run_and_names_the_docker_backend() -> None:
    swarm = SwarmApp(load(EXAMPLES / "tabular"))  # no engine is reached until a method needs one
    with pytest.raises(BackendError, match=r"A swarm stack runs the online services of 'tabular'.*DockerApp"):
        swarm.run("pipeline")
    assert swarm.stack_path == EXAMPLES / "tabular" / ".scanflow" / "stack.yaml"


def test_the_swarm_commands_say_how_to_start_an_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanflow_jupyter.cli import main

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    for command in (["status"], ["stop"], ["stop", "--all"]):
        result = CliRunner().invoke(main, ["swarm", *command, str(EXAMPLES / "tabular")])
        assert result.exit_code == 2, result.output
        assert "error: No Docker engine is reachable" in result.output
