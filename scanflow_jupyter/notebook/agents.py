"""``%scanflow agents``: the agents of this kernel and of the current application, in a panel.

- ``%scanflow agents`` (or ``panel``): the :class:`AgentPanel` of every agent built in this kernel.
- ``%scanflow agents start [NAME...]``: start agents in the background: those built in this kernel by that name,
  else those the current application declares in ``scanflow.yaml`` (built first); with no name, every agent the
  application declares. Returns their panel.
- ``%scanflow agents stop [NAME...]``: stop them (all running agents with no name); nothing of them is left running.
- ``%scanflow agents status [NAME...]``: their state, latest readings, decisions and errors, as text.
- ``%scanflow agents list``: the agents built here and those the application declares.
"""

from __future__ import annotations

import argparse

from IPython.core.error import UsageError

from ..agents import Agent, build, registered
from ..workflow import Application
from .widgets.agents import AgentPanel

__all__ = ["agents_command"]


def _known(app: Application | None) -> str:
    built = [a.name for a in registered()]
    declared = [a.name for a in app.agents] if app is not None else []
    names = sorted(set(built) | set(declared))
    return ", ".join(names) or "none yet (build one with scanflow_jupyter.agents, or declare agents in scanflow.yaml)"


def _resolve(names: list[str], app: Application | None, build_missing: bool) -> list[Agent]:
    built = {a.name: a for a in registered()}
    declared = {a.name for a in app.agents} if app is not None else set()
    agents = []
    for name in names:
        if name in built:
            agents.append(built[name])
        elif build_missing and app is not None and name in declared:
            agents.append(build(app, name))
        else:
            raise UsageError(f"%scanflow agents: no agent named {name!r}; agents: {_known(app)}")
    return agents


def agents_command(args: argparse.Namespace, app: Application | None) -> AgentPanel | None:
    """What ``%scanflow agents`` does; ``app`` is the current application (or None)."""
    action, names = args.action, list(args.names)
    if action == "panel":
        return AgentPanel(_resolve(names, app, build_missing=False) if names else None)
    if action == "list":
        built = {a.name: a for a in registered()}
        rows = [(a.name, a.kind, a.state, "built in this kernel") for a in built.values()]
        if app is not None:
            where = f"declared by {app.name!r}"
            rows += [(s.name, s.kind, "not built", where) for s in app.agents if s.name not in built]
        if not rows:
            print(f"no agents: {_known(app)}")
        for name, kind, state, where in rows:
            print(f"{name:<16} {kind:<10} {state:<10} {where}")
        return None
    if action == "start":
        if not names:
            if app is None or not app.agents:
                raise UsageError(
                    "%scanflow agents start: name the agents to start, or load an application that declares some "
                    "(an 'agents:' list in scanflow.yaml)"
                )
            names = [a.name for a in app.agents]
        agents = _resolve(names, app, build_missing=True)
        for agent in agents:
            agent.start()
        print("started: " + ", ".join(f"{a.name} (every {a.interval:g} s)" for a in agents))
        return AgentPanel(agents)
    if action == "stop":
        agents = _resolve(names, app, build_missing=False) if names else [a for a in registered() if a.running]
        for agent in agents:
            agent.stop()
        print("stopped: " + (", ".join(a.name for a in agents) or "none was running"))
        return None
    agents = _resolve(names, app, build_missing=False) if names else registered()
    if not agents:
        print(f"no agents: {_known(app)}")
    for agent in agents:
        print(agent.status())
    return None
