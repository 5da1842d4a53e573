"""The agent panel: the Python model of ``labextension/src/widgets/agents.ts``.

One card per agent (its state, its latest readings, its rules, its last decisions with their reasons and what each
actuator did, its errors) with Start, Stop and Tick buttons, and a timeline of every agent's readings, decisions
and errors. It follows the agents live: each agent tells the panel when it reads something new or decides, and
the panel sends the view a fresh snapshot (at most a few a second).

Example
-------
>>> from scanflow_jupyter.notebook import AgentPanel
>>> AgentPanel([checker, improver, planner])          # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, TypedDict

from traitlets import Dict, Float, Int, List, Unicode

from ...agents import Agent, Decision, registered
from ...agents.core import plain
from ...errors import ScanflowError
from .base import ScanflowWidget

__all__ = ["AgentPanel"]

log = logging.getLogger(__name__)

DECISIONS_SHOWN = 8
TIMELINE_SHOWN = 200
REFRESH_EVERY = 0.25  # seconds between two snapshots sent to the view, at most


class DecisionCard(TypedDict):
    """A decision in the ``agents`` trait."""

    time: float
    rule: str
    status: str
    reasons: list[str]
    actions: list[dict[str, Any]]
    run_id: str
    error: str


def decision_card(decision: Decision) -> DecisionCard:
    return {
        "time": decision.time,
        "rule": decision.rule,
        "status": decision.status,
        "reasons": list(decision.reasons),
        "actions": [
            {"actuator": a.actuator, "status": a.status, "attempts": a.attempts, "error": a.error}
            for a in decision.actions
        ],
        "run_id": decision.run_id or "",
        "error": decision.error,
    }


def agent_card(agent: Agent) -> dict[str, Any]:
    """What the view shows of one agent (plain data: the ``agents`` trait holds a list of these)."""
    status = agent.status()
    return {
        "name": agent.name,
        "kind": agent.kind,
        "state": status.state,
        "interval": status.interval,
        "ticks": status.ticks,
        "last_tick": status.last_tick,
        "experiment": status.experiment,
        "readings": [
            {"sensor": name, "summary": r.summary, "changed": r.changed, "time": r.time}
            for name, r in status.readings.items()
        ],
        "rules": plain(status.rules),
        "decisions": [decision_card(d) for d in status.decisions[-DECISIONS_SHOWN:]][::-1],
        "errors": list(status.errors[-5:]),
    }


class AgentPanel(ScanflowWidget):
    """Agents at work: their readings, decisions and errors, a timeline, and buttons to start, stop and tick them.

    Parameters
    ----------
    agents
        The agents to show (default: every agent built in this kernel).
    """

    _model_name = Unicode("AgentPanelModel").tag(sync=True)
    _view_name = Unicode("AgentPanelView").tag(sync=True)

    agents = List(Dict(), help="One card per agent: state, readings, rules, decisions, errors (see PROTOCOL.md).").tag(
        sync=True
    )
    timeline = List(Dict(), help="Readings, decisions and errors of every agent, oldest first.").tag(sync=True)
    now = Float(0.0, help="The kernel's clock when the snapshot was taken (seconds).").tag(sync=True)
    error = Unicode(help="The last mistake, as a sentence ('' when none).").tag(sync=True)
    revision = Int(0, help="Incremented after every message handled.").tag(sync=True)

    def __init__(self, agents: Iterable[Agent] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._agents: list[Agent] = list(agents) if agents is not None else registered()
        self._lock = threading.Lock()
        self._last = 0.0
        self._timer: threading.Timer | None = None
        for agent in self._agents:
            agent.listeners.append(self._on_agent)
        self.on_msg(self._handle)
        self.refresh()

    @property
    def shown(self) -> list[Agent]:
        """The agents the panel shows."""
        return list(self._agents)

    # -- Python -> view ----------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Send the view a snapshot of every agent now."""
        with self._lock:
            self._last = time.monotonic()
            self._timer = None
        entries = sorted((e for agent in self._agents for e in agent.history()), key=lambda e: e.time)
        self.agents = [agent_card(agent) for agent in self._agents]
        self.timeline = [e.to_dict() for e in entries[-TIMELINE_SHOWN:]]
        self.now = time.time()

    def _on_agent(self, _what: str) -> None:
        # Called from the agents' threads; a burst of events becomes one snapshot.
        with self._lock:
            if self._timer is not None:
                return
            wait = REFRESH_EVERY - (time.monotonic() - self._last)
            if wait > 0:
                self._timer = threading.Timer(wait, self._refresh_quietly)
                self._timer.daemon = True
                self._timer.start()
                return
        self._refresh_quietly()

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # a closed comm, say: the agent must not notice
            log.debug("agent panel refresh failed", exc_info=True)

    # -- view -> Python ----------------------------------------------------------------------------------------
    def _handle(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        event, name = content.get("event"), str(content.get("agent", ""))
        try:
            self.error = ""
            if event == "refresh":
                pass
            elif event in ("start", "stop", "tick"):
                agent = self._agent(name)
                if event == "start":
                    agent.start()
                elif event == "stop":
                    agent.stop()
                else:
                    threading.Thread(target=self._tick, args=(agent,), name="scanflow-panel-tick", daemon=True).start()
            else:
                self.error = f"unknown message {event!r} from the view"
        except ScanflowError as exc:
            self.error = str(exc)
        finally:
            self.refresh()
            self.revision += 1

    def _tick(self, agent: Agent) -> None:
        # A tick may run a workflow: never in the kernel's message handler.
        try:
            agent.tick()
        except ScanflowError as exc:
            self.error = str(exc)

    def _agent(self, name: str) -> Agent:
        for agent in self._agents:
            if agent.name == name:
                return agent
        raise ScanflowError(f"the panel shows no agent {name!r}; it shows {', '.join(a.name for a in self._agents)}")

    def close(self) -> None:
        for agent in self._agents:
            if self._on_agent in agent.listeners:
                agent.listeners.remove(self._on_agent)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        super().close()

    def _text(self) -> str:
        if not self._agents:
            return "no agents: build one (scanflow_jupyter.agents), or start the application's (%scanflow agents start)"
        return "\n".join(str(agent.status()) for agent in self._agents)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = self._text()  # what a frontend without the widget (or a saved notebook) shows
        return data

    def __repr__(self) -> str:
        return f"AgentPanel({', '.join(f'{a.name}: {a.state}' for a in self._agents) or 'no agents'})"
