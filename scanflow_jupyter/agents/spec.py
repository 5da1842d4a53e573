"""Agents declared in ``scanflow.yaml``, built the same way in a notebook and in a container.

::

    agents:
    - name: planner
      kind: planner
      interval: 5
      settings:
        model: digits-classifier
        evaluation: [work/test.npz, work/labeled-holdout.npz]

A built-in ``kind`` (tracker, checker, improver, planner) takes the settings its class takes (``-`` or ``_`` in
the names); ``kind: custom`` names a ``factory`` (``module:function``, importable from the application folder)
called as ``factory(app, name=..., interval=..., **settings)``.

:func:`service_spec` is what a deploy backend needs to run an agent as a long-running service: the command (run in
the application folder of an image that holds scanflow-jupyter), its environment, and what it needs installed.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentDefinitionError
from ..workflow import AgentSpec, Application
from .builtin import Checker, Improver, Planner, Tracker
from .runtime import Agent

__all__ = ["KINDS", "AgentService", "build", "build_all", "check", "service_spec", "settings_of"]

KINDS: dict[str, Callable[..., Agent]] = {
    "tracker": Tracker,
    "checker": Checker,
    "improver": Improver,
    "planner": Planner,
}
# Accepted by every kind besides its own settings.
_COMMON = {"record": bool, "experiment": str, "tracking_uri": str}
_NOT_SETTINGS = {"self", "app", "name", "interval", "options", "notify"}


def settings_of(kind: str) -> list[str]:
    """The settings a built-in kind accepts, as they are written in ``scanflow.yaml``."""
    cls = KINDS[kind]
    names = [p for p in inspect.signature(cls).parameters if p not in _NOT_SETTINGS]
    return [n.replace("_", "-") for n in [*names, *_COMMON]]


def _find(app: Application, name: str) -> AgentSpec:
    for spec in app.agents:
        if spec.name == name:
            return spec
    names = ", ".join(a.name for a in app.agents) or "none: add an 'agents:' list to scanflow.yaml"
    raise AgentDefinitionError(f"application {app.name!r} declares no agent {name!r}; its agents: {names}")


def check(app: Application, agent: str | AgentSpec) -> AgentSpec:
    """Check the declaration of ``agent`` (its kind's settings, or that its factory imports) without building it;
    returns its spec. What a deploy backend calls before it builds an image for the agent."""
    spec = _find(app, agent) if isinstance(agent, str) else agent
    _maker(app, spec)
    return spec


def _maker(app: Application, spec: AgentSpec) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The callable that builds ``spec``'s agent, and the keyword settings to pass it."""
    settings = {str(k).replace("-", "_"): v for k, v in spec.settings.items()}
    where = f"agent {spec.name!r} of application {app.name!r}"
    if spec.kind == "custom":
        return _factory(app, spec, where), settings
    cls = KINDS[spec.kind]
    params = inspect.signature(cls).parameters
    accepted = {p for p in params if p not in _NOT_SETTINGS} | set(_COMMON)
    unknown = sorted(set(settings) - accepted)
    if unknown:
        raise AgentDefinitionError(
            f"{where}: unknown setting(s) {', '.join(repr(u.replace('_', '-')) for u in unknown)} for a {spec.kind}; "
            f"it takes: {', '.join(settings_of(spec.kind))}"
        )
    missing = [
        p.replace("_", "-")
        for p, info in params.items()
        if p not in _NOT_SETTINGS and info.default is inspect.Parameter.empty and info.kind is info.KEYWORD_ONLY
        and p not in settings
    ]  # fmt: skip
    if missing:
        raise AgentDefinitionError(f"{where}: a {spec.kind} needs the setting(s) {', '.join(missing)}")
    return cls, settings


def build(app: Application, agent: str | AgentSpec) -> Agent:
    """The agent ``agent`` (a name in ``app.agents``, or a spec) of ``app``, built (not started)."""
    spec = _find(app, agent) if isinstance(agent, str) else agent
    maker, settings = _maker(app, spec)
    where = f"agent {spec.name!r} of application {app.name!r}"
    try:
        built = maker(app, name=spec.name, interval=spec.interval, **settings)
    except TypeError as exc:
        raise AgentDefinitionError(f"{where}: {exc}; check its settings in scanflow.yaml") from None
    if not isinstance(built, Agent):
        raise AgentDefinitionError(
            f"{where}: its factory {spec.factory!r} returned a {type(built).__name__}, not an Agent"
        )
    return built


def _factory(app: Application, spec: AgentSpec, where: str) -> Callable[..., Any]:
    assert spec.factory is not None
    module_name, _, function = spec.factory.partition(":")
    folder = str(app.folder) if app.folder is not None else None
    if folder is not None and folder not in sys.path:
        sys.path.insert(0, folder)  # the factory lives with the application's code
    try:
        factory: Callable[..., Any] = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as exc:
        raise AgentDefinitionError(
            f"{where}: cannot import its factory {spec.factory!r} ({exc}); put the module in the application folder "
            "or install it"
        ) from None
    return factory


def build_all(app: Application, names: list[str] | None = None) -> list[Agent]:
    """The agents ``names`` of ``app`` (all it declares by default), built."""
    chosen = names if names else [a.name for a in app.agents]
    return [build(app, name) for name in chosen]


@dataclass(frozen=True)
class AgentService:
    """How to run one agent as a long-running service (a container, a Kubernetes Deployment).

    ``command`` runs in the application folder (``workdir``) of an image that holds scanflow-jupyter and the
    application; ``env`` adds to the tracker's environment (``MLFLOW_TRACKING_URI``, which the backend sets);
    ``packages`` are what the agent imports beyond scanflow-jupyter's own dependencies (TensorFlow for a checker,
    which loads a detector). SIGTERM stops the agent cleanly (exit code 0).
    """

    agent: str
    kind: str
    command: list[str]
    workdir: str
    env: dict[str, str] = field(default_factory=dict)
    packages: list[str] = field(default_factory=list)


def service_spec(app: Application, agent: str, workdir: str = "/app") -> AgentService:
    """What a deploy backend runs for ``agent`` of ``app`` (see :class:`AgentService`)."""
    spec = _find(app, agent)
    packages = ["tensorflow-cpu", "keras"] if spec.kind == "checker" else []
    return AgentService(
        agent=spec.name,
        kind=spec.kind,
        command=["python", "-m", "scanflow_jupyter.agents", "run", workdir, "--agent", spec.name],
        workdir=workdir,
        env={"PYTHONUNBUFFERED": "1", "SCANFLOW_AGENT": spec.name},
        packages=packages,
    )
