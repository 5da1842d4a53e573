"""``%scanflow deploy`` and the DeployPanel: the user's mistakes as UsageErrors, and a missing Docker engine
reported in the panel and by the magic with how to start one. (The panel on a real engine runs in
notebooks/docker.ipynb, executed by tests/test_notebooks.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from scanflow_jupyter.notebook.widgets.deploy import DeployPanel

from .conftest import wait_until


@pytest.fixture
def loaded(sf: Callable[[str], Any], make_app: Callable[..., Any]) -> Any:
    app = make_app([{"name": "hello", "script": "step.py"}], name="dk-magic")
    sf(f"load {app.folder}")
    return app


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")


def test_deploy_needs_an_application(sf: Callable[[str], Any]) -> None:
    with pytest.raises(UsageError, match=r"^No application loaded"):
        sf("deploy")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("deploy serve", r"needs the service's name: %scanflow deploy serve NAME"),
        ("deploy launch", r"argument ACTION: invalid choice: 'launch'"),
        ("deploy run --to nomad", r"argument --to: invalid choice: 'nomad'"),
        ("deploy run --workers 0", r"--workers"),
        ("deploy run --to kubernetes --publish 0.0.0.0", r"--publish is for Docker \(serve, compose, stack\)"),
    ],
)
def test_deploy_mistakes_are_usage_errors(sf: Callable[[str], Any], loaded: Any, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sf(line)


def test_no_engine_says_how_to_start_one(sf: Callable[[str], Any], loaded: Any, no_engine: None) -> None:
    with pytest.raises(UsageError, match=r"No Docker engine is reachable .*dockerd"):
        sf("deploy status")


def test_the_panel_shows_a_failed_action(sf: Callable[[str], Any], loaded: Any, no_engine: None) -> None:
    panel = sf("deploy")
    assert isinstance(panel, DeployPanel)
    assert (panel.app, panel.backend, panel.phase) == ("dk-magic", "docker", "idle")
    assert sf("deploy") is panel  # one panel per application
    panel._on_message(panel, {"action": "build"}, [])  # what the view's build button sends
    wait_until(lambda: panel.phase == "failed", what="the build to fail")
    assert "No Docker engine is reachable" in panel.error and "dockerd" in panel.error
    assert "failed" in repr(panel)


def test_every_action_belongs_to_a_backend_and_each_backend_refuses_the_others() -> None:
    from scanflow_jupyter.notebook.arguments import PARSERS
    from scanflow_jupyter.notebook.deploy import BACKENDS

    action = next(a for a in PARSERS["deploy"]._actions if a.dest == "action")
    assert set(action.choices or ()) == {a for backend in BACKENDS.values() for a in backend.actions}
    to = next(a for a in PARSERS["deploy"]._actions if a.dest == "to")
    assert set(to.choices or ()) == set(BACKENDS)
    docker, kubernetes = BACKENDS["docker"], BACKENDS["kubernetes"]
    assert not set(docker.own_actions) & set(kubernetes.own_actions)
    assert docker.refusal("cancel") == "%scanflow deploy cancel is for Kubernetes: add --to kubernetes."
    assert kubernetes.refusal("stack") == (
        "stack files are for Docker; for Kubernetes use %scanflow deploy export --to kubernetes."
    )
    assert BACKENDS["swarm"].refusal("logs").startswith("%scanflow deploy logs is not for a swarm stack")


def test_a_swarm_panel_refuses_a_batch_run_with_the_fix(sf: Callable[[str], Any], loaded: Any) -> None:
    panel = sf("deploy --to swarm --publish 0.0.0.0")
    assert isinstance(panel, DeployPanel) and (panel.backend, panel.deployment.publish) == ("swarm", "0.0.0.0")
    with pytest.raises(UsageError, match=r"A swarm stack runs the online services of .*Docker backend"):
        sf("deploy run --to swarm --publish 0.0.0.0")
    assert panel.phase == "failed" and "Docker backend" in panel.error
    with pytest.raises(UsageError, match=r"deploy logs is not for a swarm stack"):
        sf("deploy logs --to swarm")
