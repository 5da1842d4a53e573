"""The agent runtime on a real MLflow store: rules fire once per change (no retrain storm), failing actuators are
retried then reported, stopping leaves no thread or process, and every decision is an MLflow run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from scanflow_jupyter.active import LabelStore
from scanflow_jupyter.agents import (
    Agent,
    Call,
    Every,
    FunctionSensor,
    Improver,
    MlflowRuns,
    Notify,
    PromoteModel,
    Rule,
    RunWorkflow,
    get,
    registered,
)
from scanflow_jupyter.errors import (
    ActuatorError,
    AgentDefinitionError,
    AgentError,
    ModelVersionNotFoundError,
    SensorError,
)

from .conftest import agent_threads, create_experiment, experiment_runs, inject_drift, wait_until


def labeled_pool(folder: Path, n: int = 6, session: str = "s") -> None:
    """A labeling pool of ``n`` samples, all labeled (what the annotator leaves once the flagged samples are done)."""
    pool = folder / "work" / "labeling" / "pool.npz"
    pool.parent.mkdir(parents=True, exist_ok=True)
    np.savez(pool, x=np.random.default_rng(0).random((n, 4)), ids=np.array([f"s{i}" for i in range(n)]))
    store = LabelStore(folder / ".scanflow" / "labels.db")
    store.open_session(session, ["0", "1"])
    for i in range(n):
        store.add_label(session, f"s{i}", str(i % 2), annotator="ana")
    store.close()


def train_runs(client: Any) -> list[Any]:
    return experiment_runs(client, "loop", "tags.`scanflow.kind` = 'run' and tags.`scanflow.workflow` = 'train'")


def test_injected_drift_triggers_exactly_one_retrain(app: Any, client: Any) -> None:
    labeled_pool(app.folder)
    improver = Improver(
        app, workflow="train", session="s", pool="work/labeling/pool.npz", min_labels=4, cooldown=3600, interval=0.05
    ).start()
    wait_until(lambda: improver.ticks >= 5, what="ticks before any drift")
    assert not improver.decisions  # labels alone do not retrain

    drift_at = time.time()
    inject_drift(client, "loop")
    decision = improver.wait_for("retrain", after=drift_at, timeout=120)
    assert decision.ok, decision.error
    ticks = improver.ticks
    wait_until(lambda: improver.ticks >= ticks + 30, what="30 more ticks")  # polling again and again changes nothing
    for batch in ("b2", "b3"):  # more drift within the cooldown: held back, not a storm of retrains
        inject_drift(client, "loop", f"work/incoming/{batch}.npz")
    ticks = improver.ticks
    wait_until(lambda: improver.ticks >= ticks + 30, what="30 ticks after more drift")
    improver.stop()

    assert len(train_runs(client)) == 1
    assert (app.folder / "out" / "runs.txt").read_text().count("\n") == 1  # the step ran once
    assert len(improver.decisions) == 1
    assert any(e.kind == "held" and "cooldown" in e.text for e in improver.timeline)
    assert (app.folder / "work" / "labeled.npz").is_file()  # the labels the retrain trained on
    # The decision is an MLflow run holding its inputs and reasons.
    [run] = experiment_runs(client, "loop-agents")
    assert run.info.run_id == decision.run_id and run.info.status == "FINISHED"
    assert run.data.tags["scanflow.agent"] == "improver" and run.data.tags["scanflow.rule"] == "retrain"
    assert "drift found by check work/incoming/b1.npz" in run.data.tags["scanflow.decision.reasons"]
    assert run.data.metrics["input.labels.labeled"] == 6.0
    recorded = json.loads(Path(client.download_artifacts(run.info.run_id, "decision.json")).read_text())
    assert set(recorded["inputs"]) == {"drift", "trained", "labels"}
    assert [a["actuator"] for a in recorded["actions"]] == ["export-labels", "retrain", "notify"]
    assert recorded["actions"][1]["result"]["status"] == "succeeded"


def test_a_failing_actuator_is_retried_then_reported(app: Any, client: Any) -> None:
    calls: list[int] = []

    def flaky(ctx: Any, decision: Any) -> dict[str, int]:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError(f"flaky {len(calls)}")
        return {"calls": len(calls)}

    def pager(ctx: Any, decision: Any) -> None:
        raise ConnectionError("the pager is down")

    agent = Agent(
        "ops",
        sensors=[FunctionSensor("level", lambda ctx: {"value": 5})],
        rules=[Rule("page", lambda v: v["level"]["value"] > 3 and "level 5 > 3", ["flaky", "pager", "notify"])],
        actuators=[Call("flaky", flaky, retries=2, backoff=0), Call("pager", pager, retries=1, backoff=0), Notify()],
        app=app,
    )  # fmt: skip
    [decision] = agent.tick()
    flaky_result, pager_result, notify_result = decision.actions
    assert (flaky_result.status, flaky_result.attempts, flaky_result.result) == ("done", 3, {"calls": 3})
    assert flaky_result.errors == ["attempt 1: RuntimeError: flaky 1", "attempt 2: RuntimeError: flaky 2"]
    assert (pager_result.status, pager_result.attempts, notify_result.status) == ("failed", 2, "skipped")
    assert decision.status == "failed"
    with pytest.raises(
        ActuatorError,
        match=r"actuator 'pager' of agent 'ops' failed after 2 attempt\(s\) on rule 'page': ConnectionError: the "
        r"pager is down\. The decision is recorded as failed \(MLflow run \w+\); the rule fires again when its "
        r"inputs change, or call agent\.fire\('page'\)",
    ):
        decision.raise_for_status()
    assert agent.errors[-1] == decision.error
    assert [e.text for e in agent.timeline if e.kind == "retry"][:2] == [
        "flaky: attempt 1 failed (RuntimeError: flaky 1); again in 0 s",
        "flaky: attempt 2 failed (RuntimeError: flaky 2); again in 0 s",
    ]
    run = client.get_run(decision.run_id)
    assert run.info.status == "FAILED" and "the pager is down" in run.data.tags["scanflow.decision.error"]
    assert run.data.tags["scanflow.decision.actions"] == "flaky: done, pager: failed, notify: skipped"

    assert agent.tick() == []  # the same inputs: the failed decision is not retaken on every tick
    calls.clear()
    assert agent.fire("page").status == "failed"  # by hand, it is


def test_stopping_leaves_no_thread_or_process(app: Any) -> None:
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    agent = Agent(
        "slow",
        sensors=[Every("clock", 3600)],
        rules=[Rule("train", lambda v: "time to train", ["train"])],
        actuators=[RunWorkflow("train", "train", params={"fit.sleep": 120}, retries=3)],
        app=app,
        interval=0.05,
    ).start()
    assert agent.state in ("running", "acting") and len(agent_threads()) == 1
    wait_until(lambda: (app.folder / "out" / "runs.txt").is_file(), what="the step to start")
    steps = [p for p in me.children(recursive=True) if "fit.py" in " ".join(p.cmdline())]
    assert steps and agent.state == "acting"

    agent.stop(timeout=60)
    assert agent.state == "stopped" and not agent_threads()
    wait_until(lambda: not {p.pid for p in me.children(recursive=True)} - before, 30, "the agent's processes to go")
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in steps)
    [decision] = agent.decisions
    assert decision.status == "failed" and decision.actions[0].attempts == 1  # no retry once stopping
    assert "cancelled" in decision.error
    agent.stop()  # twice is fine


def _registered_model(client: Any, app: Any) -> None:
    import mlflow
    from sklearn.dummy import DummyClassifier

    from scanflow_jupyter.tracking.store import use_store

    use_store(app, "models")
    try:
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                DummyClassifier().fit([[0], [1]], [0, 1]), name="model", registered_model_name="digits",
                serialization_format="cloudpickle", pip_requirements=["scikit-learn"],
            )  # fmt: skip
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def _bad_query(app: Any, client: Any) -> None:
    create_experiment(client, "loop")
    agent = Agent("watch", sensors=[MlflowRuns("runs", filter="metrics.accuracy >")], rules=[], app=app)
    agent.tick()
    agent.tick()
    assert len(agent.errors) == 1 and "MLflow refused the query" in agent.errors[-1]  # reported once; the loop goes on
    agent.sensors["runs"].read(agent.ctx)


def _failing_workflow(app: Any, client: Any) -> None:
    agent = Agent(
        "trainer",
        sensors=[FunctionSensor("go", lambda ctx: 1)],
        rules=[Rule("retrain", lambda v: True, ["train"])],
        actuators=[RunWorkflow("train", "train", params={"fit.fail": True}, retries=1, backoff=0)],
        app=app,
    )
    [decision] = agent.tick()
    first, second = decision.actions[0].errors
    assert first.split(" run ")[1].split()[0] == second.split(" run ")[1].split()[0]  # the retry resumed that run
    decision.raise_for_status()


def _missing_version(app: Any, client: Any) -> None:
    _registered_model(client, app)
    agent = Agent(
        "planner",
        sensors=[FunctionSensor("go", lambda ctx: 1)],
        rules=[Rule("promote", lambda v: True, ["promote"])],
        actuators=[PromoteModel(model="digits", version=7, retries=0)],
        app=app,
    )
    agent.tick()[0].raise_for_status()


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            _bad_query,
            SensorError,
            r"sensor 'runs' of agent 'watch': MLflow refused the query 'metrics\.accuracy >' on experiment 'loop' "
            r"\(.+\)\. Fix the filter: MLflow's search syntax",
        ),
        (
            _failing_workflow,
            ActuatorError,
            r"(?s)actuator 'train' of agent 'trainer' failed after 2 attempt\(s\) on rule 'retrain': workflow 'train' "
            r"run \S+ failed: Step 'fit' exited with code 3 .*the step failed on purpose",
        ),
        (
            _missing_version,
            ModelVersionNotFoundError,
            r"actuator 'promote' of agent 'planner': model 'digits' has no version '7' in the registry of \S+ \(its "
            r"versions are 1\)\. Register it first",
        ),
    ],
    ids=["sensor-query-fails", "workflow-fails-in-actuator", "model-version-missing"],
)
def test_bad_input_names_the_offender_and_the_fix(app: Any, client: Any, make: Any, error: Any, message: str) -> None:
    with pytest.raises(error, match=message) as info:
        make(app, client)
    assert isinstance(info.value, AgentError)


def test_rules_fire_on_change_always_or_after_a_cooldown(tmp_path: Path) -> None:
    level = {"value": 1}
    acted: list[int] = []
    agent = Agent(
        "rules",
        sensors=[FunctionSensor("level", lambda ctx: dict(level))],
        rules=[
            Rule("high", lambda v: v["level"]["value"] > 3 and "high", ["act"]),
            Rule("every", lambda v: v["level"]["value"] > 100 and "very high", ["act"], fire="always"),
            Rule("slow", lambda v: v["level"]["value"] > 3 and "high, rate limited", ["act"], cooldown=3600),
        ],
        actuators=[Call("act", lambda ctx, d: acted.append(d.values["level"]["value"]))],
        record=False,
        state_dir=tmp_path,
    )
    assert agent.tick() == []
    level["value"] = 5
    assert [d.rule for d in agent.tick()] == ["high", "slow"]
    assert agent.tick() == []  # same inputs: nothing
    level["value"] = 6
    assert [d.rule for d in agent.tick()] == ["high"]  # changed: "high" again; "slow" held by its cooldown
    assert any(e.kind == "held" and e.text.startswith("slow: held back by its cooldown") for e in agent.timeline)
    level["value"] = 200
    assert [d.rule for d in agent.tick()] == ["high", "every"]
    assert [d.rule for d in agent.tick()] == ["every"]
    assert acted == [5, 5, 6, 200, 200, 200]

    run = {"status": "SCHEDULED"}
    keyed = Agent(  # a key: fires once per run, however the run's other values change while it is written
        "keyed",
        sensors=[FunctionSensor("run", lambda ctx: {"run_id": "r1", "status": run["status"]})],
        rules=[Rule("new-run", lambda v: f"run {v['run']['run_id']}", ["act"], key=lambda v: v["run"]["run_id"])],
        actuators=[Call("act", lambda ctx, d: None)],
        record=False,
        state_dir=False,
    )
    run["status"] = "RUNNING"
    assert [d.rule for d in keyed.tick()] == ["new-run"]
    run["status"] = "FINISHED"
    assert keyed.tick() == []

    again = Agent(  # the same agent restarted: it remembers what fired (saved in state_dir)
        "rules",
        sensors=[FunctionSensor("level", lambda ctx: dict(level))],
        rules=[Rule("high", lambda v: v["level"]["value"] > 3 and "high", ["act"])],
        actuators=[Call("act", lambda ctx, d: None)],
        record=False,
        state_dir=tmp_path,
    )
    assert again.tick() == []


def test_a_broken_rule_is_reported_with_its_name(tmp_path: Path) -> None:
    agent = Agent(
        "broken",
        sensors=[FunctionSensor("runs", lambda ctx: [])],
        rules=[Rule("latest", lambda v: v["runs"][0]["status"] == "FAILED", ["notify"])],
        actuators=[Notify()],
        record=False,
        state_dir=False,
    )
    assert agent.tick() == []
    assert agent.errors[-1].startswith("rule 'latest' raised IndexError: list index out of range. A rule is a")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"rules": [Rule("r", lambda v: True, ["page"], inputs=["levle"])]},
            r"rule 'r' reads sensor 'levle', which agent 'a' does not have \(its sensors: level\).*rule 'r' calls "
            r"actuator 'page', which agent 'a' does not have \(its actuators: notify\)",
        ),
        (
            {"rules": [Rule("r", lambda v: True, ["notify"]), Rule("r", lambda v: False, ["notify"])]},
            r"agent 'a' has two rules named 'r'; rename one of them",
        ),
    ],
)
def test_a_badly_built_agent_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(AgentDefinitionError, match=message):
        Agent("a", sensors=[FunctionSensor("level", lambda ctx: 1)], actuators=[Notify()], record=False, **kwargs)


def test_status_registry_and_replacing_a_running_agent(tmp_path: Path) -> None:
    def build() -> Agent:
        return Agent(
            "watch",
            sensors=[FunctionSensor("level", lambda ctx: 2)],
            rules=[Rule("two", lambda v: v["level"] == 2 and "level is 2", ["notify"])],
            actuators=[Notify()],
            record=False,
            state_dir=False,
            interval=0.05,
        )

    first = build().start()
    first.wait_for("two", timeout=30)
    status = first.status()
    assert status.state == "running" and status.readings["level"].value == 2
    assert str(status).splitlines()[0].startswith("agent 'watch' (custom): running, ")
    assert "decision done: two: level is 2 -> notify done" in str(status)
    second = build()  # a notebook cell run again: the new agent replaces the running one, which stops
    assert not first.running and get("watch") is second and registered() == [second]
    with pytest.raises(AgentError, match=r"agent 'watch' has no decision two to show: it is not running \(start it\)"):
        second.wait_for("two", timeout=1)
    with pytest.raises(AgentError, match=r"no agent named 'nope' in this kernel \(agents: watch\)"):
        get("nope")


def test_an_agent_that_already_acted_says_so_when_asked(tmp_path: Path) -> None:
    """Run All again in the next kernel: the agent's memory says it acted on these inputs, so it does not act
    again, and wait_for shows that earlier decision instead of waiting for one that will not come (the tutorial's
    second run timed out on `planner.wait_for("promote")`)."""

    def pager(ctx: Any, decision: Any) -> None:
        raise ConnectionError("the pager is down")

    def build() -> Agent:
        return Agent(
            "memory",
            sensors=[FunctionSensor("level", lambda ctx: {"value": 5})],
            rules=[
                Rule("high", lambda v: v["level"]["value"] > 3 and "level 5 > 3", ["notify"]),
                Rule("page", lambda v: v["level"]["value"] > 4 and "level 5 > 4", ["pager"]),
            ],
            actuators=[Notify(), Call("pager", pager, retries=0)],
            record=False,
            state_dir=tmp_path,
            interval=0.05,
        )

    first = build()
    high, page = first.tick()
    assert (high.status, page.status) == ("done", "failed")

    again = build()  # a new kernel: the same agent from its memory
    remembered = again.wait_for("high", timeout=1)
    assert remembered.remembered and remembered.reasons == ["level 5 > 3"] and remembered.time == high.time
    assert remembered.summary().startswith("high: level 5 > 3 -> notify done [decided earlier, at ")
    assert remembered.summary().endswith(": the agent remembers it]")
    with pytest.raises(ActuatorError, match=r"actuator 'pager' of agent 'memory' failed after 1 attempt\(s\)"):
        again.wait_for("page", timeout=1).raise_for_status()  # a failure remembered is still a failure
    assert again.tick() == []  # it does not act twice on the same inputs

    again.start()
    wait_until(lambda: again.ticks >= 3, what="three ticks")
    asked = time.time()
    with pytest.raises(AgentError) as info:
        again.wait_for("high", after=asked, timeout=0.5)
    message = str(info.value)
    assert message.startswith("agent 'memory' has no decision high after ") and " to show: none came in 0.5 s; " in (
        message
    )
    assert "its latest such decision was taken at " in message and "-> notify done [decided earlier" in message
    assert "rule 'high' acted at " in message and "on the inputs it sees now (level: " in message
    assert "acts again when they change; agent.reset() forgets what it did" in message
    again.stop()

    again.reset()  # forgotten: it acts again
    with pytest.raises(AgentError, match="it is not running"):
        again.wait_for("high", timeout=0.1)
    assert [d.rule for d in again.tick()] == ["high", "page"]
