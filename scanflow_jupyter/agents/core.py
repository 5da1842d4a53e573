"""The parts of an agent: readings, sensors, rules, actuators, decisions, and the context they share.

A **sensor** takes a reading (plain data: numbers, strings, lists, dicts) from the world: an MLflow query, a
folder of new batches, a clock. A **rule** is a pure predicate over the latest values of the sensors it reads; when
it holds, it names the **actuators** to call (run a workflow, queue samples for labeling, promote a model
version, notify). One firing is a **decision**: its inputs, its reasons, what each actuator did. The runtime
(:mod:`.runtime`) records every decision as an MLflow run.

Example
-------
>>> from scanflow_jupyter.agents.core import Rule
>>> rule = Rule("retrain", lambda v: v["drift"]["detected"] and "the last batch drifted", then=["train"])
>>> rule.evaluate({"drift": {"detected": True}})
['the last batch drifted']
>>> rule.evaluate({"drift": {"detected": False}})
[]
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ActuatorError, AgentDefinitionError, ScanflowError
from .reach import Reachability

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from ..engine.runner import WorkflowRun
    from ..workflow import Application

__all__ = [
    "ActionResult",
    "Actuator",
    "Context",
    "Decision",
    "Reading",
    "Rule",
    "Sensor",
    "fingerprint",
    "plain",
]

FireMode = Literal["change", "always"]


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: NumPy numbers and arrays become Python ones, paths strings, NaN ``None``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    tolist = getattr(value, "tolist", None)  # NumPy scalars and arrays
    if callable(tolist):
        return plain(tolist())
    return str(value)


def fingerprint(value: Any) -> str:
    """A short digest of plain data (key order does not matter): what "the inputs changed" compares."""
    text = json.dumps(plain(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Reading:
    """What a sensor saw: its ``value`` (plain data), whether it differs from the sensor's previous reading, when,
    and a line for people (``summary``)."""

    sensor: str
    value: Any
    changed: bool
    time: float
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensor": self.sensor,
            "value": plain(self.value),
            "changed": self.changed,
            "time": self.time,
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reading:
        return cls(
            str(data["sensor"]),
            data.get("value"),
            bool(data.get("changed")),
            float(data["time"]),
            str(data.get("summary", "")),
        )


class Context:
    """What sensors and actuators of one agent share: the application, the MLflow store, and the agent's stop
    signal (long actuators check it, and register the workflow runs they start so that stopping cancels them)."""

    def __init__(
        self,
        agent: str,
        *,
        app: Application | None,
        tracking_uri: str,
        experiment: str,
        artifact_root: str | None,
        stopping: threading.Event,
    ) -> None:
        self.agent = agent
        self.app = app
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.artifact_root = artifact_root
        self.stopping = stopping
        self.reach = Reachability(tracking_uri)  # checks an HTTP tracker in seconds before MLflow is asked
        self._client: MlflowClient | None = None
        self._runs: list[WorkflowRun] = []
        self._lock = threading.Lock()
        self.model_cache: Path | None = None  # where downloaded models are kept (removed when the agent stops)

    @property
    def folder(self) -> Path:
        """The application folder (relative paths in settings are relative to it), else the working directory."""
        if self.app is not None and self.app.folder is not None:
            return self.app.folder
        return Path.cwd()

    def path(self, relative: str | Path) -> Path:
        """``relative`` resolved against the application folder (absolute paths are kept)."""
        p = Path(relative)
        return p if p.is_absolute() else self.folder / p

    def require_tracker(self, *, fresh: bool = False) -> None:
        """Raise :class:`~scanflow_jupyter.errors.TrackerUnreachableError` (in seconds, naming the address and
        what to check) when the agent's tracking server cannot be reached; see :mod:`.reach`. ``fresh``: check now,
        even if a check passed a moment ago."""
        self.reach.require(f"agent {self.agent!r}", fresh=fresh)

    def client(self) -> MlflowClient:
        """An MLflow client of the agent's store (MLflow is imported on first use), once the tracker is known to be
        reachable (:meth:`require_tracker`)."""
        self.require_tracker()
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(self.tracking_uri)
        return self._client

    def experiment_id(self, name: str | None = None, create: bool = False) -> str | None:
        """The id of experiment ``name`` (the application's by default); None when it does not exist (and
        ``create`` is false)."""
        wanted = name or self.experiment
        found = self.client().get_experiment_by_name(wanted)
        if found is not None:
            return str(found.experiment_id)
        if not create:
            return None
        return str(self.client().create_experiment(wanted, artifact_location=self.artifact_root))

    def models_dir(self) -> Path:
        """A folder for the models the agent downloads (removed when it stops)."""
        if self.model_cache is None:
            import tempfile

            self.model_cache = Path(tempfile.mkdtemp(prefix=f"scanflow-agent-{self.agent}-"))
        return self.model_cache

    # -- workflow runs an actuator started (stopping the agent cancels them) ---------------------------------------
    def track(self, run: WorkflowRun) -> None:
        with self._lock:
            self._runs.append(run)
            stopping = self.stopping.is_set()
        if stopping:
            run.cancel()

    def untrack(self, run: WorkflowRun) -> None:
        with self._lock:
            if run in self._runs:
                self._runs.remove(run)

    def cancel_runs(self) -> int:
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            run.cancel()
        return len(runs)


class Sensor:
    """Something an agent reads on every tick. Subclasses implement :meth:`measure` (plain data, or raise
    :class:`~scanflow_jupyter.errors.SensorError` naming the sensor and the fix) and may override :meth:`summarize`
    and :meth:`changed`.

    ``state()`` / ``restore()`` keep what must survive a restart (the files already seen, say): an agent with an
    application folder saves it under ``.scanflow/agents/``.
    """

    kind = "sensor"
    needs_tracker = False  # reads the MLflow store: the agent checks its tracker is reachable first

    def __init__(self, name: str) -> None:
        self.name = name
        self._last: str | None = None

    def measure(self, ctx: Context) -> Any:
        raise NotImplementedError

    def summarize(self, value: Any) -> str:
        text = json.dumps(plain(value), sort_keys=True)
        return text if len(text) <= 120 else text[:117] + "..."

    def changed(self, value: Any) -> bool:
        """Whether ``value`` differs from the previous reading (by default: its fingerprint)."""
        digest = fingerprint(value)
        changed = digest != self._last
        self._last = digest
        return changed

    def read(self, ctx: Context) -> Reading:
        value = plain(self.measure(ctx))
        return Reading(self.name, value, self.changed(value), time.time(), self.summarize(value))

    def state(self) -> dict[str, Any]:
        return {"last": self._last}

    def restore(self, state: Mapping[str, Any]) -> None:
        self._last = state.get("last")

    def describe(self) -> str:
        return self.kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


Predicate = Callable[[Mapping[str, Any]], Any]


@dataclass
class Rule:
    """A pure predicate over the latest sensor values, and the actuators to call when it holds.

    Parameters
    ----------
    name
        The rule's name (unique in its agent); decisions are recorded under it.
    when
        ``when(values) -> reasons``: ``values`` maps each sensor in ``inputs`` to its latest value. Return False
        (or None, or an empty list) when the rule does not hold; True, a sentence, or a list of sentences when it
        does. The sentences are the decision's reasons, so say why (with the numbers).
    then
        The actuators to call, in order; one failing stops the rest.
    inputs
        The sensors it reads (default: all of the agent's).
    fire
        ``"change"`` (default): it fires when it holds and its inputs differ from those of its last firing, so a
        drift seen once is acted on once, however often the agent polls. ``"always"``: on every tick it holds.
    cooldown
        At least this many seconds between two firings: a rate limit (no retrain storm when batches drift one
        after another). A firing held back by it happens when the cooldown is over, if the rule still holds.
    key
        What must change for it to fire again (``fire="change"``): a function of the values, such as the id of the
        newest run (then a run whose metrics are still being written is one situation, not several). Default: all
        its input values.
    """

    name: str
    when: Predicate
    then: Sequence[str]
    inputs: Sequence[str] | None = None
    fire: FireMode = "change"
    cooldown: float = 0.0
    description: str = ""
    key: Callable[[Mapping[str, Any]], Any] | None = None
    # Memory of the runtime (saved with the agent's state).
    fired_inputs: str | None = field(default=None, repr=False)
    fired_at: float | None = field(default=None, repr=False)
    fired: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.fire not in ("change", "always"):
            raise AgentDefinitionError(f"rule {self.name!r}: fire={self.fire!r}; use 'change' or 'always'")
        if self.cooldown < 0:
            raise AgentDefinitionError(f"rule {self.name!r}: cooldown must be 0 or more seconds, got {self.cooldown}")
        if isinstance(self.then, str):
            self.then = [self.then]

    def evaluate(self, values: Mapping[str, Any]) -> list[str]:
        """The reasons it holds (empty when it does not). A predicate that raises is a bug of the rule: it is
        reported with the rule's name."""
        try:
            verdict = self.when(values)
        except Exception as exc:
            raise AgentDefinitionError(
                f"rule {self.name!r} raised {type(exc).__name__}: {exc}. A rule is a predicate over the sensor "
                f"values it is given ({', '.join(sorted(values)) or 'none'}); make it handle them"
            ) from exc
        if verdict is None or verdict is False:
            return []
        if verdict is True:
            return [self.description or f"rule {self.name!r} holds"]
        if isinstance(verdict, str):
            return [verdict] if verdict else []
        if isinstance(verdict, Sequence):
            return [str(v) for v in verdict if v]
        return [self.description or f"rule {self.name!r} holds"] if verdict else []

    def situation(self, values: Mapping[str, Any]) -> str:
        """The fingerprint compared with that of its last firing."""
        if self.key is None:
            return fingerprint(values)
        try:
            return fingerprint(self.key(values))
        except Exception as exc:
            raise AgentDefinitionError(
                f"rule {self.name!r}: its key raised {type(exc).__name__}: {exc}; make it handle the values it is given"
            ) from exc

    def cooling(self, now: float) -> float:
        """Seconds left before it may fire again (0 when it may)."""
        if not self.cooldown or self.fired_at is None:
            return 0.0
        return max(0.0, self.fired_at + self.cooldown - now)

    def state(self) -> dict[str, Any]:
        return {"fired_inputs": self.fired_inputs, "fired_at": self.fired_at, "fired": self.fired}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.fired_inputs = state.get("fired_inputs")
        self.fired_at = state.get("fired_at")
        self.fired = int(state.get("fired", 0))


class Actuator:
    """Something an agent does when a rule fires. Subclasses implement :meth:`act`, which gets the decision (its
    ``inputs`` are the readings that made the rule fire, ``results`` what the actuators before it returned) and
    returns plain data to record, or raises.

    A failure is retried ``retries`` times, ``backoff`` seconds apart (doubling); after the last it becomes an
    :class:`~scanflow_jupyter.errors.ActuatorError`, and the decision is recorded as failed.
    """

    kind = "actuator"

    def __init__(self, name: str, *, retries: int = 2, backoff: float = 1.0) -> None:
        if retries < 0 or backoff < 0:
            raise AgentDefinitionError(f"actuator {name!r}: retries and backoff must be 0 or more")
        self.name = name
        self.retries = retries
        self.backoff = backoff

    def act(self, ctx: Context, decision: Decision) -> Any:
        raise NotImplementedError

    def retry(self, ctx: Context, decision: Decision, attempt: int, error: BaseException) -> Any:
        """Attempt ``attempt`` (2, 3, ...) after ``error``; by default the same as the first."""
        return self.act(ctx, decision)

    def describe(self) -> str:
        return self.kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


@dataclass
class ActionResult:
    """What one actuator did in a decision: ``status`` is ``done``, ``failed`` or ``skipped`` (an actuator before it
    failed)."""

    actuator: str
    status: str = "pending"
    attempts: int = 0
    result: Any = None
    error: str = ""
    errors: list[str] = field(default_factory=list)  # each failed attempt's message
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "actuator": self.actuator,
            "status": self.status,
            "attempts": self.attempts,
            "result": plain(self.result),
            "error": self.error,
            "errors": list(self.errors),
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActionResult:
        return cls(
            str(data["actuator"]),
            str(data.get("status", "")),
            int(data.get("attempts", 0)),
            data.get("result"),
            str(data.get("error", "")),
            [str(e) for e in data.get("errors", [])],
            float(data.get("seconds", 0.0)),
        )


@dataclass
class Decision:
    """One firing of a rule: its inputs (the readings it was given), its reasons, and what each actuator did.
    ``run_id`` is its MLflow run (None when the agent does not record)."""

    agent: str
    rule: str
    inputs: dict[str, Reading]
    reasons: list[str]
    actions: list[ActionResult]
    time: float = field(default_factory=time.time)
    status: str = "acting"  # acting, done, failed
    finished: float | None = None
    run_id: str | None = None
    error: str = ""
    exception: ScanflowError | None = field(default=None, repr=False, compare=False)
    remembered: bool = False  # taken by an earlier run of the agent, restored from its memory

    @property
    def values(self) -> dict[str, Any]:
        """The input values, by sensor."""
        return {name: reading.value for name, reading in self.inputs.items()}

    def result(self, actuator: str) -> Any:
        """What ``actuator`` returned in this decision (None if it has not run)."""
        for action in self.actions:
            if action.actuator == actuator:
                return action.result
        return None

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def raise_for_status(self) -> Decision:
        """Raise the error of the actuator that failed (an :class:`~scanflow_jupyter.errors.ActuatorError`); returns
        the decision when none did."""
        if self.exception is not None:
            raise self.exception
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "rule": self.rule,
            "time": self.time,
            "finished": self.finished,
            "status": self.status,
            "reasons": list(self.reasons),
            "inputs": {name: reading.to_dict() for name, reading in self.inputs.items()},
            "actions": [a.to_dict() for a in self.actions],
            "run_id": self.run_id,
            "error": self.error,
        }

    def summary(self) -> str:
        reasons = "; ".join(self.reasons)
        actions = ", ".join(f"{a.actuator} {a.status}" for a in self.actions)
        text = f"{self.rule}: {reasons} -> {actions}" + (f" ({self.error})" if self.error else "")
        if self.remembered:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
            where = f", MLflow run {self.run_id}" if self.run_id else ""
            text += f" [decided earlier, at {when}{where}: the agent remembers it]"
        return text

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, remembered: bool = True) -> Decision:
        """The decision :meth:`to_dict` wrote (an agent's memory); a failed one raises again from
        :meth:`raise_for_status`, as an :class:`~scanflow_jupyter.errors.ActuatorError` with its message."""
        actions = [ActionResult.from_dict(a) for a in data.get("actions", [])]
        decision = cls(
            str(data["agent"]),
            str(data["rule"]),
            {str(name): Reading.from_dict(r) for name, r in (data.get("inputs") or {}).items()},
            [str(r) for r in data.get("reasons", [])],
            actions,
            time=float(data["time"]),
            status=str(data.get("status", "done")),
            finished=data.get("finished"),
            run_id=data.get("run_id"),
            error=str(data.get("error", "")),
            remembered=remembered,
        )
        if decision.status == "failed":
            failed = next((a for a in actions if a.status == "failed"), ActionResult("", attempts=1))
            decision.exception = ActuatorError(decision.error or "it failed", failed.actuator, failed.attempts)
        return decision


def describe_error(exc: BaseException) -> str:
    """One message for an exception: a ScanflowError's own (it names the fix), else its type and text."""
    if isinstance(exc, ScanflowError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
