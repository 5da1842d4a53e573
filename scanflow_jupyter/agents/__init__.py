"""Agents: sensors, rules and actuators that watch a model in production and act, each decision an MLflow run.

An :class:`Agent` reads its sensors (MLflow queries, new batch files, a clock), evaluates its rules (pure
predicates over the readings) and calls the actuators of those that hold (run a workflow, queue samples for
labeling, promote a model version, notify). It runs in the kernel's background (:meth:`Agent.start`,
:meth:`Agent.stop`, :meth:`Agent.status`) or as a service (``python -m scanflow_jupyter.agents run APP``).
The built-in :class:`Tracker`, :class:`Checker`, :class:`Improver` and :class:`Planner` make Scanflow's loop:
drift found, samples labeled, model retrained, the better version promoted.

Importing this package imports NumPy and the workflow model; MLflow loads when an agent first reads or records.

Example
-------
>>> from scanflow_jupyter.agents import Agent, MlflowRuns, Notify, Rule
>>> watch = Agent(
...     "watch",
...     sensors=[MlflowRuns("failed", filter="attributes.status = 'FAILED'")],
...     rules=[Rule("alert", lambda v: bool(v["failed"]) and f"{v['failed'][0]['name']} failed", then=["notify"])],
...     actuators=[Notify()],
...     app=app,
... ).start()                                                        # doctest: +SKIP
>>> watch.status().decisions                                         # doctest: +SKIP
>>> watch.stop()                                                     # doctest: +SKIP
"""

from __future__ import annotations

from .actuators import Call, ExportLabels, Notify, PromoteModel, QueueForLabeling, RejectModel, RunWorkflow
from .builtin import Checker, Improver, Planner, Tracker
from .core import ActionResult, Actuator, Context, Decision, Reading, Rule, Sensor
from .records import DecisionLog, decisions_experiment
from .runtime import Agent, AgentStatus, TimelineEntry, get, registered, stop_all
from .sensors import DriftCheck, Every, FunctionSensor, LabelCount, MlflowRuns, ModelScores, ModelVersions, NewFiles
from .spec import AgentService, build, build_all, service_spec

__all__ = [
    "ActionResult",
    "Actuator",
    "Agent",
    "AgentService",
    "AgentStatus",
    "Call",
    "Checker",
    "Context",
    "Decision",
    "DecisionLog",
    "DriftCheck",
    "Every",
    "ExportLabels",
    "FunctionSensor",
    "Improver",
    "LabelCount",
    "MlflowRuns",
    "ModelScores",
    "ModelVersions",
    "NewFiles",
    "Notify",
    "Planner",
    "PromoteModel",
    "QueueForLabeling",
    "Reading",
    "RejectModel",
    "Rule",
    "RunWorkflow",
    "Sensor",
    "TimelineEntry",
    "Tracker",
    "build",
    "build_all",
    "decisions_experiment",
    "get",
    "registered",
    "service_spec",
    "stop_all",
]
