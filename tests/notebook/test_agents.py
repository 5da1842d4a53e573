"""The AgentPanel widget and ``%scanflow agents``: agents declared by the application started, shown, stopped from
the magic and from the panel's buttons, with nothing left running."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from IPython.core.error import UsageError

from scanflow_jupyter.agents import Agent, FunctionSensor, Notify, Rule, runtime
from scanflow_jupyter.notebook import AgentPanel

from .conftest import wait_until


@pytest.fixture(autouse=True)
def _no_agent_left() -> Any:
    yield
    runtime.stop_all(timeout=60)
    with runtime._registry_lock:
        runtime._registry.clear()


@pytest.fixture
def declared(make_app: Callable[..., Any]) -> Any:
    """An application declaring a tracker that ticks every 0.1 s."""
    return make_app(
        [{"name": "fit", "script": "step.py"}],
        name="watched",
        agents=[{"name": "tracker", "kind": "tracker", "interval": 0.1, "settings": {"workflow": "main"}}],
    )


def _send(panel: AgentPanel, content: dict[str, Any]) -> None:
    panel._handle(panel, content, [])


def test_agents_magic_starts_shows_and_stops_declared_agents(
    sf: Callable[[str], Any], declared: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sf(f"load {declared.folder}")
    sf("agents list")
    assert "tracker          tracker    not built  declared by 'watched'" in capsys.readouterr().out
    panel = sf("agents start")
    assert isinstance(panel, AgentPanel) and capsys.readouterr().out == "started: tracker (every 0.1 s)\n"
    wait_until(lambda: panel.agents[0]["ticks"] >= 3, what="the panel to follow the ticks")
    card = panel.agents[0]
    assert (card["name"], card["kind"], card["state"]) == ("tracker", "tracker", "running")
    assert card["readings"][0]["summary"] == "no matching run" and card["rules"][0]["name"] == "run-failed"
    assert [e["kind"] for e in panel.timeline][:1] == ["started"]

    sf("agents status tracker")
    assert capsys.readouterr().out.startswith("agent 'tracker' (tracker): running, ")
    sf("agents stop")
    assert capsys.readouterr().out == "stopped: tracker\n"
    assert not [t for t in threading.enumerate() if t.name.startswith("scanflow-agent-")]
    wait_until(lambda: panel.agents[0]["state"] == "stopped", what="the panel to show it stopped")
    assert "agent 'tracker' (tracker): stopped" in panel._repr_mimebundle_()["text/plain"]

    with pytest.raises(UsageError, match=r"%scanflow agents: no agent named 'nope'; agents: tracker"):
        sf("agents stop nope")
    with pytest.raises(UsageError, match=r"argument ACTION: invalid choice: 'pause'"):
        sf("agents pause")


def test_agents_start_without_an_application_needs_names(sf: Callable[[str], Any]) -> None:
    with pytest.raises(UsageError, match=r"name the agents to start, or load an application that declares some"):
        sf("agents start")
    panel = sf("agents")
    assert panel.agents == [] and panel._repr_mimebundle_()["text/plain"].startswith("no agents:")


def test_panel_buttons_start_tick_and_stop_an_agent(tmp_path: Any) -> None:
    agent = Agent(
        "watch",
        sensors=[FunctionSensor("level", lambda ctx: 5)],
        rules=[Rule("high", lambda v: v["level"] > 3 and "level 5 > 3", ["notify"])],
        actuators=[Notify()],
        record=False,
        state_dir=False,
        interval=30,
    )
    panel = AgentPanel([agent])
    assert panel.agents[0]["state"] == "stopped" and panel.agents[0]["decisions"] == []
    _send(panel, {"event": "tick", "agent": "watch"})  # in the background: the kernel's handler never blocks
    wait_until(
        lambda: [d["status"] for d in panel.agents[0]["decisions"]] == ["done"], what="the tick's decision, done"
    )
    decision = panel.agents[0]["decisions"][0]
    assert (decision["rule"], decision["status"], decision["reasons"]) == ("high", "done", ["level 5 > 3"])
    assert decision["actions"] == [{"actuator": "notify", "status": "done", "attempts": 1, "error": ""}]
    _send(panel, {"event": "start", "agent": "watch"})
    assert agent.running and panel.agents[0]["state"] in ("running", "acting")
    _send(panel, {"event": "stop", "agent": "watch"})
    assert not agent.running and panel.agents[0]["state"] == "stopped" and panel.error == ""
    revision = panel.revision
    _send(panel, {"event": "stop", "agent": "other"})
    assert panel.error == "the panel shows no agent 'other'; it shows watch" and panel.revision == revision + 1
    panel.close()
    assert agent.listeners == []
