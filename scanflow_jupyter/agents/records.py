"""Every decision an agent takes is an MLflow run: who decided, by which rule, on what inputs, for which reasons,
and what each actuator did.

The run is created when the rule fires (status RUNNING, its inputs and reasons already there) and closed when
the actuators are done (FINISHED, or FAILED with the error). It lives in the experiment ``<experiment>-agents``
of the application's store, so the decisions can be audited beside the runs they caused:

- tags: ``scanflow.kind = decision``, ``scanflow.agent``, ``scanflow.rule``, ``scanflow.app``,
  ``scanflow.decision.status``, ``scanflow.decision.reasons``, ``scanflow.decision.error``;
- params: ``rule``, ``actuators``, and each input sensor's summary (``input.<sensor>``);
- metrics: the numbers among the inputs (``input.<sensor>.<key>``);
- artifact ``decision.json``: the whole decision (inputs, reasons, each actuator's attempts, results and errors).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ..errors import TrackingError
from ..tracking.store import redact
from .core import Decision, plain

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from .reach import Reachability

__all__ = ["DECISION_ARTIFACT", "DecisionLog", "decisions_experiment"]

log = logging.getLogger(__name__)

DECISION_ARTIFACT = "decision.json"
_TAG_LIMIT = 5000
_PARAM_LIMIT = 500
_MAX_METRICS = 100


def decisions_experiment(experiment: str) -> str:
    """The experiment that holds the decisions of an application whose runs are in ``experiment``."""
    return f"{experiment}-agents"


def _numbers(prefix: str, value: Any, out: dict[str, float], depth: int = 0) -> None:
    if len(out) >= _MAX_METRICS or depth > 2:
        return
    if isinstance(value, bool):
        out[prefix] = 1.0 if value else 0.0
    elif isinstance(value, int | float):
        out[prefix] = float(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _numbers(f"{prefix}.{key}", item, out, depth + 1)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DecisionLog:
    """Writes decisions as MLflow runs in ``experiment`` of the store ``tracking_uri``."""

    def __init__(
        self,
        tracking_uri: str,
        experiment: str,
        artifact_root: str | None,
        app: str = "",
        reach: Reachability | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_root = artifact_root
        self.app = app
        self.reach = reach  # checked before each write: a tracker that is down fails in seconds, not minutes
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(self.tracking_uri)
        return self._client

    def experiment_id(self) -> str:
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment)
            if found is not None:
                self._experiment_id = str(found.experiment_id)
            else:
                try:
                    self._experiment_id = str(
                        self.client.create_experiment(self.experiment, artifact_location=self._artifacts())
                    )
                except Exception:  # another agent created it a moment ago
                    again = self.client.get_experiment_by_name(self.experiment)
                    if again is None:
                        raise
                    self._experiment_id = str(again.experiment_id)
        return self._experiment_id

    def _artifacts(self) -> str | None:
        if self.artifact_root is None:
            return None
        return self.artifact_root.rstrip("/") + "/" + self.experiment

    def open(self, decision: Decision) -> str:
        """Create the decision's run with its inputs and reasons; returns its id."""
        from mlflow.entities import Metric, Param

        if self.reach is not None:
            self.reach.require(f"agent {decision.agent!r}")
        try:
            run = self.client.create_run(
                self.experiment_id(),
                run_name=f"{decision.agent}: {decision.rule}",
                tags={
                    "scanflow.kind": "decision",
                    "scanflow.agent": decision.agent,
                    "scanflow.rule": decision.rule,
                    "scanflow.app": self.app,
                    "scanflow.decision.status": decision.status,
                    "scanflow.decision.reasons": _clip("\n".join(decision.reasons), _TAG_LIMIT),
                },
                start_time=int(decision.time * 1000),
            )
            run_id = str(run.info.run_id)
            params = [Param("rule", decision.rule), Param("actuators", ",".join(a.actuator for a in decision.actions))]
            params += [
                Param(f"input.{name}", _clip(reading.summary or "-", _PARAM_LIMIT))
                for name, reading in decision.inputs.items()
            ]
            numbers: dict[str, float] = {}
            for name, reading in decision.inputs.items():
                _numbers(f"input.{name}", reading.value, numbers)
            now = int(time.time() * 1000)
            metrics = [Metric(key, value, now, 0) for key, value in numbers.items()]
            self.client.log_batch(run_id, metrics=metrics, params=params)
            self.client.log_dict(run_id, plain(decision.to_dict()), DECISION_ARTIFACT)
        except Exception as exc:
            raise TrackingError(
                redact(
                    f"agent {decision.agent!r} could not record its decision {decision.rule!r} in the MLflow store "
                    f"{self.tracking_uri} ({type(exc).__name__}: {exc}); check that the store is reachable and writable"
                )
            ) from exc
        return run_id

    def close(self, decision: Decision) -> None:
        """Record what the actuators did and end the run (FINISHED, or FAILED with the error)."""
        if decision.run_id is None:
            return
        run_id = decision.run_id
        if self.reach is not None:
            self.reach.require(f"agent {decision.agent!r}")
        try:
            tags = {
                "scanflow.decision.status": decision.status,
                "scanflow.decision.actions": _clip(
                    ", ".join(f"{a.actuator}: {a.status}" for a in decision.actions), _TAG_LIMIT
                ),
            }
            if decision.error:
                tags["scanflow.decision.error"] = _clip(decision.error, _TAG_LIMIT)
            for key, value in tags.items():
                self.client.set_tag(run_id, key, value)
            self.client.log_dict(run_id, plain(decision.to_dict()), DECISION_ARTIFACT)
            status = "FINISHED" if decision.ok else "FAILED"
            end = int((decision.finished or time.time()) * 1000)
            self.client.set_terminated(run_id, status, end_time=end)
        except Exception as exc:
            raise TrackingError(
                f"agent {decision.agent!r} could not close the MLflow run {run_id} of its decision "
                f"{decision.rule!r} ({type(exc).__name__}: {exc})"
            ) from exc
