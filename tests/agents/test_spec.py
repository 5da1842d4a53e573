"""Agents declared in scanflow.yaml: built the same way in a kernel and by ``python -m scanflow_jupyter.agents``
(the command a container runs), with clear errors for a bad declaration."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from scanflow_jupyter.agents import Agent, Checker, Improver, Planner, Tracker, build, build_all, service_spec
from scanflow_jupyter.errors import AgentDefinitionError, WorkflowValidationError
from scanflow_jupyter.workflow import AgentSpec, load

FACTORY = textwrap.dedent(
    """
    from scanflow_jupyter.agents import Agent, FunctionSensor, Notify, Rule

    def make(app, name, interval, level=3):
        return Agent(name, sensors=[FunctionSensor("level", lambda ctx: level)],
                     rules=[Rule("high", lambda v: v["level"] > 2 and "high", ["notify"])],
                     actuators=[Notify()], app=app, interval=interval)
    """
)


@pytest.fixture
def declared(app: Any) -> Any:
    """The application with one agent of each kind declared (and saved to scanflow.yaml)."""
    app.agents = [
        AgentSpec(name="checker", kind="checker", settings={"detector": "models:/c/1", "batches": "work/incoming"}),
        AgentSpec(name="improver", kind="improver", interval=2, settings={"min-labels": 5, "session": "s"}),
        AgentSpec(name="planner", kind="planner", settings={"model": "clf", "evaluation": ["work/test.npz"]}),
        AgentSpec(name="tracker", kind="tracker", interval=0.2, settings={"workflow": "train"}),
        AgentSpec(name="mine", kind="custom", factory="my_agents:make", settings={"level": 5}),
    ]
    (app.folder / "my_agents.py").write_text(FACTORY)
    app.save()
    return load(app.folder)


def test_agents_declared_in_scanflow_yaml_are_built(declared: Any) -> None:
    assert [a.name for a in declared.agents] == ["checker", "improver", "planner", "tracker", "mine"]
    agents = {a.name: a for a in build_all(declared)}
    assert [type(a) for a in agents.values()] == [Checker, Improver, Planner, Tracker, Agent]
    assert agents["improver"].interval == 2.0 and agents["improver"].rules[0].cooldown == 300.0
    assert agents["planner"].sensors["scores"].evaluation[0].name == "test.npz"  # type: ignore[attr-defined]
    assert build(declared, "mine").tick()[0].reasons == ["high"]
    assert "agents:\n- name: checker\n  kind: checker\n  settings:\n    detector: models:/c/1" in declared.to_yaml()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            AgentSpec(name="planner", kind="planner", settings={"modle": "clf"}),
            r"agent 'planner' of application 'loop': unknown setting\(s\) 'modle' for a planner; it takes: model, "
            r"alias, evaluation, metric, margin, load-timeout, record, experiment, tracking-uri",
        ),
        (
            AgentSpec(name="planner", kind="planner"),
            r"agent 'planner' of application 'loop': a planner needs the setting\(s\) model",
        ),
        (
            AgentSpec(name="mine", kind="custom", factory="nowhere:make"),
            r"agent 'mine' of application 'loop': cannot import its factory 'nowhere:make' \(No module named "
            r"'nowhere'\); put the module in the application folder or install it",
        ),
    ],
    ids=["unknown-setting", "missing-setting", "missing-factory"],
)
def test_a_bad_declaration_names_the_agent_and_the_fix(app: Any, spec: AgentSpec, message: str) -> None:
    app.agents = [spec]
    with pytest.raises(AgentDefinitionError, match=message):
        build(app, spec.name)


def test_declarations_are_validated_with_the_application(app: Any) -> None:
    app.agents = [AgentSpec(name="My Agent", kind="custom"), AgentSpec(name="x", kind="planner", factory="a:b")]
    with pytest.raises(WorkflowValidationError) as info:
        app.validate()
    text = str(info.value)
    assert "agent name 'My Agent' is not a valid DNS-1123 label" in text and "'my-agent'" in text
    assert "a custom agent needs 'factory'" in text and "'factory' is only for kind: custom" in text
    with pytest.raises(AgentDefinitionError, match=r"application 'loop' declares no agent 'nope'; its agents: My"):
        build(app, "nope")


def test_service_spec_is_what_a_container_runs(declared: Any) -> None:
    spec = service_spec(declared, "checker")
    assert spec.command == ["python", "-m", "scanflow_jupyter.agents", "run", "/app", "--agent", "checker"]
    assert spec.workdir == "/app" and spec.env["SCANFLOW_AGENT"] == "checker"
    assert spec.packages == ["tensorflow-cpu", "keras"] and service_spec(declared, "planner").packages == []


def _agents(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanflow_jupyter.agents", *args], capture_output=True, text=True, timeout=300, **kwargs
    )


def test_the_entry_point_runs_declared_agents(declared: Any) -> None:
    folder = str(declared.folder)
    listed = _agents("list", folder)
    assert listed.returncode == 0 and listed.stdout.splitlines()[3] == "tracker\ttracker\tevery 0.2 s"
    once = _agents("run", folder, "--agent", "tracker", "--agent", "mine", "--once")
    assert once.returncode == 0, once.stderr
    assert "agent 'tracker' (tracker): stopped, 1 tick(s)" in once.stdout
    assert "mine: done: high: high -> notify done" in once.stdout
    bad = _agents("run", folder, "--agent", "nope", "--once")
    assert bad.returncode == 2 and "error: application 'loop' declares no agent 'nope'" in bad.stderr


def test_sigterm_stops_a_running_agent_cleanly(declared: Any) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanflow_jupyter.agents", "run", str(declared.folder), "--agent", "tracker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while "started" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert "agent tracker (tracker) started: a tick every 0.2 s" in seen, seen
        time.sleep(1.0)  # a few ticks
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert "signal 15: stopping 1 agent(s)" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
