"""Agents as containers of a Docker deployment: the generated Dockerfile (a golden file), the image's context
and what the agents layer asks of the deployment (no Docker engine needed). ``SCANFLOW_UPDATE_GOLDEN=1``
regenerates the golden file; the whole path (an agent container promoting a version in the tracker) runs in
notebooks/digits_end_to_end.ipynb when an engine is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.deploy.docker.agents import agent_dockerfile, agent_image
from scanflow_jupyter.errors import AgentDefinitionError

from ..golden import check_golden

GOLDEN = Path(__file__).parent / "golden"


def test_agent_dockerfile_matches_its_golden_file() -> None:
    text = agent_dockerfile("scanflow/runtime:0123456789abcdef", requirements=True, data_dirs=("work",), app="digits")
    check_golden(GOLDEN / "agent.Dockerfile", text)


class _Built(Exception):
    """Raised by the fake engine with what it was asked to build."""


def test_the_agent_image_holds_the_package_and_the_application(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanflow_jupyter.deploy.docker import agents, images
    from scanflow_jupyter.deploy.docker.dockerfile import ImageOptions

    def fake_build(client: Any, specs: Any, *args: Any, **kwargs: Any) -> None:
        raise _Built(list(specs))

    monkeypatch.setattr(agents, "build", fake_build)

    class Deployment:  # what agent_image reads of a DockerApp, without an engine
        options = ImageOptions(base_image="python:3.11-slim")
        client = build_network = None

        def __init__(self, app: Any) -> None:
            self.app = app

        def images(self, workflows: Any = None, tracker: bool = True) -> list[Any]:
            return images.plan(self.app, self.options, "sha256:base", "3.17.0", workflows, tracker)

    with pytest.raises(_Built) as info:
        agent_image(Deployment(app), ["tensorflow-cpu"])  # type: ignore[arg-type]  # a stand-in, not a DockerApp
    runtime, spec = info.value.args[0]
    assert runtime.role == "runtime" and spec.role == "agent" and spec.repository == "scanflow/loop-agents"
    files = spec.context.files
    assert "scanflow_jupyter/agents/service.py" in files and "scanflow_jupyter/errors.py" in files
    assert not any("labextension" in f or "__pycache__" in f for f in files)
    assert "app/scanflow.yaml" in files and "app/fit.py" in files
    assert files["requirements.txt"][0].decode().splitlines() == ["tensorflow-cpu"]
    assert spec.labels["scanflow.app"] == "loop" and spec.labels["scanflow.kind"] == "agent"


def test_a_bad_declaration_fails_before_any_build(app: Any) -> None:
    from scanflow_jupyter.agents.docker import start_agent

    class Deployment:
        def __init__(self, app: Any) -> None:
            self.app = app

        def start(self, *args: Any) -> None:
            raise AssertionError("nothing may start for an agent the application does not declare")

    with pytest.raises(AgentDefinitionError, match=r"application 'loop' declares no agent 'planner'"):
        start_agent(Deployment(app), "planner")  # type: ignore[arg-type]


def test_an_agent_is_started_with_its_declared_command(app: Any) -> None:
    """The agents layer decides the command, environment and packages; the deployment (here a stand-in of the
    ``DockerAgents`` protocol) builds and runs them."""
    from scanflow_jupyter.agents.docker import AgentContainer, start_agent
    from scanflow_jupyter.agents.spec import service_spec
    from scanflow_jupyter.workflow.model import AgentSpec

    app.agents = [AgentSpec(name="planner", kind="planner", settings={"model": "loop-model"})]
    asked: list[tuple[Any, ...]] = []

    class Deployment:
        name = "loop"

        def __init__(self, app: Any) -> None:
            self.app = app

        def start(self, on_event: Any = None) -> str:
            asked.append(("start",))
            return "http://127.0.0.1:5000"

        def agent_image(self, packages: Any = (), on_event: Any = None) -> str:
            asked.append(("image", list(packages)))
            return "scanflow/loop-agents:0123"

        def run_agent(self, agent: str, image: str, command: list[str], env: Any, workdir: str) -> str:
            asked.append(("run", agent, image, command, dict(env), workdir))
            return "scanflow-loop-agent-planner"

        def stop_agent(self, agent: str, timeout: int = 30) -> bool:
            return True

        def agent_logs(self, agent: str, tail: int = 50) -> str:
            return ""

    started = start_agent(Deployment(app), "planner")
    assert started == AgentContainer("planner", "scanflow-loop-agent-planner", "scanflow/loop-agents:0123")
    spec = service_spec(app, "planner")
    assert asked == [
        ("start",),
        ("image", spec.packages),
        ("run", "planner", "scanflow/loop-agents:0123", spec.command, spec.env, spec.workdir),
    ]
