"""The agent runtime: read the sensors, evaluate the rules, call the actuators, record each decision; in the
foreground (:meth:`Agent.tick`) or in a background thread of the kernel (:meth:`Agent.start` /
:meth:`Agent.stop`), so a notebook never blocks on an agent.

How often a rule fires: a rule fires when it holds *and* its inputs differ from those of its last firing
(``fire="change"``), at most once per ``cooldown`` seconds. Polling every second changes nothing: a batch that
drifted is acted on once. The memory of what fired (and of the files a sensor has seen) is saved under
``.scanflow/agents/`` of the application, so a restarted agent does not act twice on the same thing either.

Failures: a sensor that cannot read is reported (status, timeline) and the rules that read it wait; an actuator
that fails is retried with backoff, then reported, and its decision is recorded as FAILED in MLflow. Nothing an
agent meets stops its loop.

Stopping leaves nothing behind: the thread ends, a workflow an actuator is running is cancelled (its step
processes stopped), and the tracking writer processes no run is using are closed.

Example
-------
>>> agent = Agent("watch", sensors=[...], rules=[...], actuators=[...], app=app, interval=5)   # doctest: +SKIP
>>> agent.start()                       # returns at once                                     # doctest: +SKIP
>>> agent.status().decisions[-1].summary()                                                    # doctest: +SKIP
>>> agent.stop()                                                                              # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    ActuatorError,
    AgentDefinitionError,
    AgentError,
    ScanflowError,
    SensorError,
    TrackerUnreachableError,
    TrackingError,
)
from ..tracking.store import redact, resolve
from .core import ActionResult, Actuator, Context, Decision, Reading, Rule, Sensor, describe_error
from .reach import TrackerState
from .records import DecisionLog, decisions_experiment

if TYPE_CHECKING:
    from ..workflow import Application

__all__ = ["Agent", "AgentStatus", "TimelineEntry", "get", "registered", "stop_all"]

log = logging.getLogger("scanflow_jupyter.agents")
# A library's logger: silent unless the application configures logging (the service entry point does). In a
# kernel, what a background thread logs would otherwise land in whatever cell happens to run.
log.addHandler(logging.NullHandler())

TIMELINE_SIZE = 500
DECISIONS_KEPT = 200
ERRORS_KEPT = 50


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an agent's timeline. ``kind``: started, stopped, reading (a sensor saw something new),
    decision, held (a firing held back by a cooldown), retry, error."""

    time: float
    agent: str
    kind: str
    text: str
    status: str = ""
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "agent": self.agent,
            "kind": self.kind,
            "text": self.text,
            "status": self.status,
            "run_id": self.run_id or "",
        }


@dataclass
class AgentStatus:
    """A snapshot of an agent: its state (``stopped``, ``running``, ``acting``, ``stopping``), its latest
    readings, its recent decisions and errors."""

    name: str
    kind: str
    state: str
    interval: float
    ticks: int
    last_tick: float | None
    readings: dict[str, Reading]
    decisions: list[Decision]
    errors: list[str]
    rules: list[dict[str, Any]] = field(default_factory=list)
    experiment: str = ""
    tracking_uri: str = ""
    tracker: TrackerState | None = None  # what the last check of an HTTP tracker found

    def __str__(self) -> str:
        lines = [f"agent {self.name!r} ({self.kind}): {self.state}, {self.ticks} tick(s), every {self.interval:g} s"]
        if self.tracker is not None and self.tracker.reachable is False:
            when = time.strftime("%H:%M:%S", time.localtime(self.tracker.retry_at or time.time()))
            lines.append(
                f"  tracker {self.tracker.uri} unreachable ({self.tracker.failures} check(s) failed); next at {when}"
            )
        for name, reading in self.readings.items():
            lines.append(f"  reading {name}: {reading.summary}")
        for decision in self.decisions[-5:]:
            lines.append(f"  decision {decision.status}: {decision.summary()}")
        for error in self.errors[-3:]:
            lines.append(f"  error: {error}")
        return "\n".join(lines)


def _store(app: Application | None, tracking_uri: str | None, experiment: str | None) -> tuple[str, str, str | None]:
    """The store (URI, experiment of the runs, artifact root) an agent reads and records in."""
    config = resolve(app)  # without an application: MLFLOW_TRACKING_URI or ./.scanflow, experiment "scanflow"
    return tracking_uri or config.uri, experiment or config.experiment, None if tracking_uri else config.artifact_root


class Agent:
    """Sensors, rules and actuators, run by one loop.

    Parameters
    ----------
    name
        The agent's name (its decisions, its state file, its container, its thread are named after it).
    sensors, rules, actuators
        The parts (see :mod:`scanflow_jupyter.agents.core`); a rule names the sensors it reads and the actuators
        it calls, and a name it gives that the agent lacks is an :class:`~scanflow_jupyter.errors.AgentDefinitionError`.
    app
        The application it acts on: relative paths are relative to its folder, and its MLflow store (the
        ``tracker`` setting, else ``.scanflow/mlflow.db``) is the one sensors query and decisions are recorded in.
    interval
        Seconds between two ticks in the background.
    tracking_uri, experiment
        Another store or experiment than the application's.
    record
        Record each decision as an MLflow run (default).
    state_dir
        Where its memory is saved (default: ``.scanflow/agents`` of the application; None without one).
    """

    kind = "custom"

    def __init__(
        self,
        name: str,
        *,
        sensors: Iterable[Sensor],
        rules: Iterable[Rule],
        actuators: Iterable[Actuator] = (),
        app: Application | None = None,
        interval: float = 10.0,
        tracking_uri: str | None = None,
        experiment: str | None = None,
        record: bool = True,
        state_dir: str | Path | bool | None = True,
        description: str = "",
    ) -> None:
        if not name or not isinstance(name, str):
            raise AgentDefinitionError("an agent needs a name (a short text such as 'checker')")
        if interval <= 0:
            raise AgentDefinitionError(f"agent {name!r}: interval must be a positive number of seconds")
        self.name = name
        self.app = app
        self.interval = float(interval)
        self.description = description
        self.sensors: dict[str, Sensor] = _by_name(sensors, "sensor", name)
        self.actuators: dict[str, Actuator] = _by_name(actuators, "actuator", name)
        self.rules: list[Rule] = list(rules)
        _by_name(self.rules, "rule", name)
        self._check_rules()
        uri, runs_experiment, artifact_root = _store(app, tracking_uri, experiment)
        self.tracking_uri = uri
        self.experiment = runs_experiment
        self._stop = threading.Event()
        self.ctx = Context(
            name,
            app=app,
            tracking_uri=uri,
            experiment=runs_experiment,
            artifact_root=artifact_root,
            stopping=self._stop,
        )
        experiment_of_decisions = decisions_experiment(runs_experiment)
        self.log: DecisionLog | None = (
            DecisionLog(uri, experiment_of_decisions, artifact_root, app.name if app else "", self.ctx.reach)
            if record
            else None
        )
        self.readings: dict[str, Reading] = {}
        self.decisions: deque[Decision] = deque(maxlen=DECISIONS_KEPT)
        self.timeline: deque[TimelineEntry] = deque(maxlen=TIMELINE_SIZE)
        self.errors: deque[str] = deque(maxlen=ERRORS_KEPT)
        self._history_lock = threading.Lock()  # the deques above are read by a panel while the loop appends
        self._errors_now: set[str] = set()  # the failures of this tick, and of the tick before
        self._errors_before: set[str] = set()
        self._tracker_failures = 0  # failed tracker checks in a row, as last noted in the timeline
        self.listeners: list[Callable[[str], None]] = []  # called with "reading", "decision", "state", "error"
        self.ticks = 0
        self.last_tick: float | None = None
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.RLock()
        self._decided = threading.Condition()
        self._acting: Decision | None = None
        self._held: dict[str, str] = {}  # rule -> inputs last reported as held back by its cooldown
        self._state_file = self._state_path(state_dir)
        self._last: dict[str, dict[str, Any]] = {}  # rule -> its latest finished decision, as saved in the memory
        self._restore()
        _register(self)

    # -- definition --------------------------------------------------------------------------------------------
    def _check_rules(self) -> None:
        problems = []
        for rule in self.rules:
            for sensor in rule.inputs or ():
                if sensor not in self.sensors:
                    problems.append(
                        f"rule {rule.name!r} reads sensor {sensor!r}, which agent {self.name!r} does not have "
                        f"(its sensors: {', '.join(self.sensors) or 'none'})"
                    )
            for actuator in rule.then:
                if actuator not in self.actuators:
                    problems.append(
                        f"rule {rule.name!r} calls actuator {actuator!r}, which agent {self.name!r} does not have "
                        f"(its actuators: {', '.join(self.actuators) or 'none'})"
                    )
        if problems:
            raise AgentDefinitionError("; ".join(problems) + ". Add the part, or fix the name in the rule.")

    def _state_path(self, state_dir: str | Path | bool | None) -> Path | None:
        if state_dir is False or state_dir is None:
            return None
        if state_dir is True:
            if self.app is None or self.app.folder is None:
                return None
            return self.app.folder / ".scanflow" / "agents" / f"{self.name}.json"
        return Path(state_dir) / f"{self.name}.json"

    def _restore(self) -> None:
        if self._state_file is None or not self._state_file.is_file():
            return
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return  # a damaged memory: start afresh rather than refuse to start
        for rule in self.rules:
            rule.restore(state.get("rules", {}).get(rule.name, {}))
        for sensor in self.sensors.values():
            sensor.restore(state.get("sensors", {}).get(sensor.name, {}))
        # The last decision of each rule, so that asking for it (wait_for, status) shows what was done before.
        remembered = []
        for rule in self.rules:
            data = (state.get("decisions") or {}).get(rule.name)
            if not data:
                continue
            try:
                remembered.append(Decision.from_dict(data))
            except (KeyError, TypeError, ValueError):
                continue  # a memory of another version's shape: that decision is forgotten, the rest kept
            self._last[rule.name] = data
        with self._history_lock:
            self.decisions.extend(sorted(remembered, key=lambda d: d.time))

    def _save(self) -> None:
        if self._state_file is None:
            return
        from ..workflow.spec import write_atomic

        state = {
            "agent": self.name,
            "rules": {rule.name: rule.state() for rule in self.rules},
            "sensors": {sensor.name: sensor.state() for sensor in self.sensors.values()},
            "decisions": dict(self._last),
        }
        try:
            write_atomic(self._state_file, json.dumps(state, indent=1, default=str))
        except OSError as exc:
            self._error(f"could not save its memory to {self._state_file}: {exc}")

    def reset(self) -> None:
        """Forget what fired, the decisions remembered and what the sensors have seen (the next tick acts on
        everything again)."""
        with self._tick_lock:
            for rule in self.rules:
                rule.restore({})
            for sensor in self.sensors.values():
                sensor.restore({})
            self._last.clear()
            with self._history_lock:
                kept = [d for d in self.decisions if not d.remembered]
                self.decisions.clear()
                self.decisions.extend(kept)
            if self._state_file is not None:
                self._state_file.unlink(missing_ok=True)

    # -- events --------------------------------------------------------------------------------------------------
    def _note(self, kind: str, text: str, status: str = "", run_id: str | None = None) -> None:
        with self._history_lock:
            self.timeline.append(TimelineEntry(time.time(), self.name, kind, text, status, run_id))

    def _error(self, message: str) -> None:
        self._errors_now.add(message)
        if message in self._errors_before:
            return  # the same failure tick after tick (a store that is down): reported once, until it recovers
        with self._history_lock:
            self.errors.append(message)
        self._note("error", message, "failed")
        log.warning("agent %s: %s", self.name, message)
        self._tell("error")

    def history(self) -> list[TimelineEntry]:
        """The timeline (oldest first), copied."""
        with self._history_lock:
            return list(self.timeline)

    def _tell(self, what: str) -> None:
        if what in ("decision", "state"):
            with self._decided:
                self._decided.notify_all()
        for listener in list(self.listeners):
            try:
                listener(what)
            except Exception:  # a broken panel must not break the agent
                log.exception("agent %s: listener %r failed", self.name, listener)

    # -- one tick ------------------------------------------------------------------------------------------------
    def tick(self) -> list[Decision]:
        """Read every sensor, evaluate every rule, act on those that fire; returns the decisions taken."""
        with self._tick_lock:
            self.ticks += 1
            self.last_tick = time.time()
            self._errors_before, self._errors_now = self._errors_now, set()
            failed = self._read_sensors()
            decisions = []
            for rule in self.rules:
                if self._stop.is_set() and self._thread is not None:
                    break
                decision = self._consider(rule, failed)
                if decision is not None:
                    decisions.append(decision)
            self._save()
            self._tell("state")
            return decisions

    def _read_sensors(self) -> set[str]:
        failed: set[str] = set()
        waiting: list[str] = []  # the sensors that wait for an unreachable tracker
        down: TrackerUnreachableError | None = None
        for sensor in self.sensors.values():
            try:
                if sensor.needs_tracker:
                    self.ctx.require_tracker(fresh=True)  # seconds, where MLflow's own retries take minutes
                reading = sensor.read(self.ctx)
            except Exception as exc:
                failed.add(sensor.name)
                unreachable = _unreachable(exc)
                if unreachable is not None:
                    down = unreachable
                    waiting.append(sensor.name)
                elif isinstance(exc, SensorError):
                    self._error(str(exc))
                else:
                    self._error(
                        f"sensor {sensor.name!r} of agent {self.name!r} failed: {describe_error(exc)}. The rules that "
                        "read it wait until it reads again; fix its settings if this repeats"
                    )
                continue
            self.readings[sensor.name] = reading
            if reading.changed:
                self._note("reading", f"{sensor.name}: {reading.summary}")
                self._tell("reading")
        if down is not None:
            self._tracker_down(down, waiting)
        elif self._tracker_failures and self.ctx.reach.state().reachable:
            self._tracker_failures = 0
            self._note("retry", f"tracker {self.ctx.reach.uri}: reachable again")
            self._tell("state")
        return failed

    def _tracker_down(self, error: TrackerUnreachableError, waiting: list[str]) -> None:
        """Say once (until it is back) that the tracker cannot be reached and which sensors wait; note each check
        that failed, with when the next one comes (1, 2, 4, ... s apart, at most a minute)."""
        names = ", ".join(repr(n) for n in waiting)
        wait = f"sensors {names} wait" if len(waiting) > 1 else f"sensor {names} waits"
        self._error(f"{error}. Its {wait} for it; the agent goes on and checks again, less often while it is down")
        state = self.ctx.reach.state()
        if state.failures != self._tracker_failures:
            self._tracker_failures = state.failures
            after = self.ctx.reach.delay(state.failures)
            self._note("retry", f"tracker {state.uri}: check {state.failures} failed; the next in {after:g} s")
            self._tell("state")

    def _inputs(self, rule: Rule) -> list[str]:
        return list(rule.inputs) if rule.inputs else list(self.sensors)

    def _consider(self, rule: Rule, failed: set[str]) -> Decision | None:
        names = self._inputs(rule)
        if any(n in failed or n not in self.readings for n in names):
            return None  # stale or missing inputs: wait for a good reading
        values = {n: self.readings[n].value for n in names}
        try:
            reasons = rule.evaluate(values)
        except AgentDefinitionError as exc:
            self._error(str(exc))
            return None
        if not reasons:
            return None
        try:
            digest = rule.situation(values)
        except AgentDefinitionError as exc:
            self._error(str(exc))
            return None
        if rule.fire == "change" and digest == rule.fired_inputs:
            return None  # acted on these inputs already
        wait = rule.cooling(time.time())
        if wait > 0:
            if self._held.get(rule.name) != digest:
                self._held[rule.name] = digest
                self._note("held", f"{rule.name}: held back by its cooldown for {wait:.0f} s more ({reasons[0]})")
                self._tell("state")
            return None
        return self._decide(rule, names, reasons, digest)

    def fire(self, rule: str) -> Decision:
        """Fire ``rule`` now, on the latest readings, whether or not it holds or has fired on them (to retry a
        failed decision by hand, say). Reads the sensors first when it has never read them."""
        found = next((r for r in self.rules if r.name == rule), None)
        if found is None:
            raise AgentDefinitionError(
                f"agent {self.name!r} has no rule {rule!r}; its rules: {', '.join(r.name for r in self.rules)}"
            )
        with self._tick_lock:
            names = self._inputs(found)
            if any(n not in self.readings for n in names):
                self._read_sensors()
            missing = [n for n in names if n not in self.readings]
            if missing:
                raise AgentError(
                    f"agent {self.name!r} cannot fire {rule!r}: sensor(s) {', '.join(missing)} have no reading "
                    f"({self.errors[-1] if self.errors else 'not read yet'})"
                )
            values = {n: self.readings[n].value for n in names}
            reasons = found.evaluate(values) or [f"fired by hand (rule {rule!r} does not hold on these readings)"]
            decision = self._decide(found, names, reasons, found.situation(values))
            self._save()
            return decision

    def _decide(self, rule: Rule, names: Sequence[str], reasons: list[str], digest: str) -> Decision:
        # Remembered before acting: a decision that fails is not retaken on the same inputs (no retry storm);
        # the actuator's own retries and the next change of inputs are what try again.
        rule.fired_inputs, rule.fired_at, rule.fired = digest, time.time(), rule.fired + 1
        self._held.pop(rule.name, None)
        decision = Decision(
            self.name,
            rule.name,
            {n: self.readings[n] for n in names},
            reasons,
            [ActionResult(a) for a in rule.then],
        )
        with self._history_lock:
            self.decisions.append(decision)
        self._acting = decision
        self._note("decision", f"{rule.name}: {'; '.join(reasons)}", "acting")
        self._tell("decision")
        if self.log is not None:
            try:
                decision.run_id = self.log.open(decision)
            except TrackingError as exc:
                self._error(str(exc))
        try:
            self._act(decision)
        finally:
            decision.finished = time.time()
            self._acting = None
        if self.log is not None and decision.run_id is not None:
            try:
                self.log.close(decision)
            except TrackingError as exc:
                self._error(str(exc))
        self._last[rule.name] = decision.to_dict()
        text = decision.summary()
        self._note("decision", text, decision.status, decision.run_id)
        log.info("agent %s decided %s", self.name, text)
        self._tell("decision")
        return decision

    def _act(self, decision: Decision) -> None:
        failed = False
        for action in decision.actions:
            if failed or (self._stop.is_set() and self._thread is not None):
                action.status = "skipped"
                continue
            actuator = self.actuators[action.actuator]
            try:
                self._attempt(actuator, decision, action)
            except ActuatorError as exc:
                action.status = "failed"
                action.error = str(exc)
                decision.error = str(exc)
                decision.exception = exc
                failed = True
                self._error(str(exc))
            else:
                action.status = "done"
        decision.status = "failed" if failed else "done"

    def _attempt(self, actuator: Actuator, decision: Decision, action: ActionResult) -> Any:
        last: Exception | None = None
        tries = 1 + actuator.retries
        for attempt in range(1, tries + 1):
            action.attempts = attempt
            started = time.monotonic()
            try:
                if attempt == 1:
                    result = actuator.act(self.ctx, decision)
                else:
                    assert last is not None
                    result = actuator.retry(self.ctx, decision, attempt, last)
            except Exception as exc:
                action.seconds += time.monotonic() - started
                last = exc
                message = describe_error(exc)
                action.errors.append(f"attempt {attempt}: {message}")
                stopping = self._stop.is_set() and self._thread is not None
                if attempt < tries and not stopping:
                    delay = actuator.backoff * 2 ** (attempt - 1)
                    self._note("retry", f"{actuator.name}: attempt {attempt} failed ({message}); again in {delay:g} s")
                    self._tell("state")
                    if self._stop.wait(delay) and self._thread is not None:
                        break
                    continue
                break
            action.seconds += time.monotonic() - started
            action.result = result
            return result
        assert last is not None
        where = f" (MLflow run {decision.run_id})" if decision.run_id else ""
        message = (
            f"actuator {actuator.name!r} of agent {self.name!r} failed after {action.attempts} attempt(s) on "
            f"rule {decision.rule!r}: {describe_error(last)}. The decision is recorded as failed{where}; the rule "
            f"fires again when its inputs change, or call agent.fire({decision.rule!r}) once it is fixed"
        )
        if isinstance(last, ActuatorError):  # keep its kind (a missing model version, say)
            raise type(last)(message, actuator.name, action.attempts) from last
        raise ActuatorError(message, actuator.name, action.attempts) from last

    # -- the background loop -------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Agent:
        """Run in a background thread, a tick every ``interval`` seconds (the first at once); returns at once."""
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"scanflow-agent-{self.name}", daemon=True)
        self._note("started", f"started: a tick every {self.interval:g} s")
        self._thread.start()
        self._tell("state")
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.tick()
            except Exception as exc:  # a bug of ours or of a part: report it, keep watching
                self._error(f"tick failed: {describe_error(exc)}")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the loop and wait for it: a workflow an actuator is running is cancelled, retries are abandoned,
        and no thread or process of the agent is left. Safe to call when it is not running."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        self.ctx.cancel_runs()
        thread.join(timeout)
        if thread.is_alive():
            doing = f" (it is acting on {self._acting.rule!r})" if self._acting else ""
            raise AgentError(
                f"agent {self.name!r} did not stop within {timeout:g} s{doing}; call stop() again to wait longer"
            )
        self._thread = None
        self._cleanup()
        self._note("stopped", "stopped")
        self._tell("state")

    def _cleanup(self) -> None:
        from ..tracking.recorder import close_idle_writers

        close_idle_writers(self.tracking_uri)
        cache = self.ctx.model_cache
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
            self.ctx.model_cache = None

    def run_forever(self) -> None:
        """Run the loop in this thread until :meth:`stop` is called from another (or SIGTERM, see
        :mod:`scanflow_jupyter.agents.service`)."""
        self._stop.clear()
        self._thread = threading.current_thread()
        self._note("started", f"started: a tick every {self.interval:g} s")
        try:
            self._loop()
        finally:
            self._thread = None
            self._cleanup()
            self._note("stopped", "stopped")

    def request_stop(self) -> None:
        """Ask the loop to end after the current step (a signal handler's way; :meth:`stop` also waits)."""
        self._stop.set()
        self.ctx.cancel_runs()

    def wait_for(self, rule: str | None = None, *, after: float | None = None, timeout: float = 120.0) -> Decision:
        """The latest finished decision of ``rule`` (any rule by default) taken after the time ``after`` (default:
        any so far), waiting up to ``timeout`` seconds for the agent (running in the background) to take one. For
        notebooks and tests: ``planner.wait_for("promote")``.

        A decision the agent remembers from an earlier run counts (its ``remembered`` is true, and its summary says
        when it was taken): an agent that already acted says so instead of waiting for a decision it will not take
        again. When none comes, the :class:`~scanflow_jupyter.errors.AgentError` says why the rule does not fire."""
        deadline = time.monotonic() + timeout

        def found() -> Decision | None:
            with self._history_lock:
                decisions = list(self.decisions)
            for decision in reversed(decisions):
                wanted = rule is None or decision.rule == rule
                if wanted and decision.status != "acting" and (after is None or decision.time > after):
                    return decision
            return None

        with self._decided:
            while True:
                decision = found()
                if decision is not None:
                    return decision
                left = deadline - time.monotonic()
                if left <= 0 or not self.running:
                    why = "it is not running (start it)" if not self.running else f"none came in {timeout:g} s"
                    since = f" after {_clock(after)}" if after is not None else ""
                    text = f"agent {self.name!r} has no decision {rule or ''}{since} to show: {why}".replace("  ", " ")
                    raise AgentError(text + "".join(f"; {line}" for line in self._why_not(rule, after)))
                self._decided.wait(min(left, 0.5))

    def _why_not(self, rule: str | None, after: float | None) -> list[str]:
        """Why no decision of ``rule`` came: the one it remembers (older than asked for), whether the rule holds on
        the latest readings and whether it acted on those already, and the agent's last error."""
        lines = []
        with self._history_lock:
            earlier = [d for d in self.decisions if (rule is None or d.rule == rule) and d.status != "acting"]
        if earlier:
            lines.append(f"its latest such decision was taken at {_clock(earlier[-1].time)}: {earlier[-1].summary()}")
        for candidate in self.rules if rule is None else [r for r in self.rules if r.name == rule]:
            names = self._inputs(candidate)
            if any(n not in self.readings for n in names):
                lines.append(f"rule {candidate.name!r} has no reading of {', '.join(names)} yet")
                continue
            values = {n: self.readings[n].value for n in names}
            readings = "; ".join(f"{n}: {self.readings[n].summary}" for n in names)
            try:
                holds, digest = bool(candidate.evaluate(values)), candidate.situation(values)
            except AgentDefinitionError as exc:
                lines.append(str(exc))
                continue
            if not holds:
                lines.append(f"rule {candidate.name!r} does not hold on the latest readings ({readings})")
            elif candidate.fire == "change" and digest == candidate.fired_inputs:
                at = f" at {_clock(candidate.fired_at)}" if candidate.fired_at else ""
                lines.append(
                    f"rule {candidate.name!r} acted{at} on the inputs it sees now ({readings}) and acts again when "
                    "they change; agent.reset() forgets what it did"
                )
        if self.errors:
            lines.append(f"its last error: {self.errors[-1]}")
        return lines

    # -- what it is doing ----------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        if self._thread is None:
            return "stopped"
        if self._stop.is_set():
            return "stopping"
        return "acting" if self._acting is not None else "running"

    def status(self) -> AgentStatus:
        now = time.time()
        with self._history_lock:
            decisions, errors = list(self.decisions), list(self.errors)
        rules = [
            {
                "name": r.name,
                "then": list(r.then),
                "inputs": self._inputs(r),
                "fire": r.fire,
                "cooldown": r.cooldown,
                "cooling": round(r.cooling(now), 1),
                "fired": r.fired,
                "fired_at": r.fired_at,
                "description": r.description,
            }
            for r in self.rules
        ]
        return AgentStatus(
            self.name,
            self.kind,
            self.state,
            self.interval,
            self.ticks,
            self.last_tick,
            dict(self.readings),
            decisions,
            errors,
            rules,
            self.log.experiment if self.log else "",
            redact(self.tracking_uri),  # shown (panels, logs): never the password
            self.ctx.reach.state() if self.ctx.reach.checked else None,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, {self.state}, {len(self.sensors)} sensor(s), {len(self.rules)} "
            f"rule(s), {len(self.decisions)} decision(s))"
        )


def _clock(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _unreachable(exc: BaseException) -> TrackerUnreachableError | None:
    """The TrackerUnreachableError that ``exc`` is or was raised from (a sensor may wrap it), if any."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, TrackerUnreachableError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _by_name(parts: Iterable[Any], what: str, agent: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        if part.name in out:
            raise AgentDefinitionError(f"agent {agent!r} has two {what}s named {part.name!r}; rename one of them")
        out[part.name] = part
    return out


# -- the agents of this process --------------------------------------------------------------------------------------
_registry: dict[str, Agent] = {}
_registry_lock = threading.Lock()


def _register(agent: Agent) -> None:
    with _registry_lock:
        old = _registry.get(agent.name)
        _registry[agent.name] = agent
    if old is not None and old is not agent and old.running:
        # A notebook cell run again builds the agent again: the new one replaces the old, which stops.
        old._note("stopped", "replaced by a new agent of the same name")
        old.stop()


def registered() -> list[Agent]:
    """Every agent built in this process (the latest of each name), in the order they were built."""
    with _registry_lock:
        return list(_registry.values())


def get(name: str) -> Agent:
    """The agent named ``name`` in this process."""
    with _registry_lock:
        agent = _registry.get(name)
        names = ", ".join(_registry) or "none yet"
    if agent is None:
        raise AgentError(f"no agent named {name!r} in this kernel (agents: {names}); build or start it first")
    return agent


def forget(name: str) -> None:
    """Drop a stopped agent from the registry."""
    with _registry_lock:
        agent = _registry.get(name)
        if agent is not None and not agent.running:
            del _registry[name]


def stop_all(timeout: float = 60.0) -> list[str]:
    """Stop every running agent of this process; returns their names."""
    stopped = []
    for agent in registered():
        if agent.running:
            try:
                agent.stop(timeout)
            except ScanflowError as exc:
                log.warning("%s", exc)
            stopped.append(agent.name)
    return stopped


@atexit.register
def _stop_at_exit() -> None:
    stop_all(timeout=10.0)
