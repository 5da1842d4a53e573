"""The built-in agents: Scanflow's loop of a model in production.

- :class:`Tracker` watches the runs and metrics of the application and says when a run fails or a metric
  crosses a line.
- :class:`Checker` checks each new batch of production data for drift and sends the samples the detector flags
  to a labeling session.
- :class:`Improver` retrains (runs the training workflow on the new labels) once drift has been found and its
  samples labeled, at most once per cooldown.
- :class:`Planner` compares the newest model version with the one in production, on the same evaluation data, and
  moves the ``production`` alias to the better one.

They talk through MLflow (the checks, the training runs, the registry), so each can run on its own: in a notebook,
or each in its container (``python -m scanflow_jupyter.agents run APP --agent NAME``).

Example
-------
>>> checker = Checker(app, detector="models:/digits-checker/1", batches="work/incoming",
...                   pool="work/labeling/pool.npz", session="digits").start()        # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .actuators import ExportLabels, Notify, PromoteModel, QueueForLabeling, RejectModel, RunWorkflow
from .core import Actuator, Decision, Rule, Sensor
from .runtime import Agent
from .sensors import DriftCheck, LabelCount, MlflowRuns, ModelScores

if TYPE_CHECKING:
    from ..checking import AutoencoderDetector
    from ..workflow import Application

__all__ = ["NOTIFICATIONS", "Checker", "Improver", "Planner", "Tracker"]

NOTIFICATIONS = ".scanflow/agents/notifications.log"  # where the built-in agents' Notify writes, in the app folder
# The checks that found drift: the checker agent's, a checker step's, %scanflow check --log's (all log this metric).
DRIFT_FOUND = "metrics.`drift.detected` = 1 and attributes.status = 'FINISHED'"
Callback = Callable[[str, Decision], Any]


def _when(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def _notify(callback: Callback | None) -> Notify:
    return Notify("notify", callback=callback, file=NOTIFICATIONS)


class Tracker(Agent):
    """Watches the application's workflow runs (of ``workflow``, or all) and a metric of its step runs.

    Rules: ``run-failed`` (the newest workflow run failed), ``metric-low`` / ``metric-high`` (the newest run that
    logged ``metric`` is below ``below`` / above ``above``); each notifies once per run.
    """

    kind = "tracker"

    def __init__(
        self,
        app: Application,
        *,
        workflow: str | None = None,
        metric: str | None = None,
        below: float | None = None,
        above: float | None = None,
        notify: Callback | None = None,
        name: str = "tracker",
        interval: float = 30.0,
        **options: Any,
    ) -> None:
        runs_filter = "tags.`scanflow.kind` = 'run'"
        if workflow:
            runs_filter += f" and tags.`scanflow.workflow` = '{workflow}'"
        sensors: list[Sensor] = [MlflowRuns("runs", filter=runs_filter, tags=["scanflow.workflow", "scanflow.run_id"])]
        rules = [
            Rule(
                "run-failed",
                _run_failed,
                then=["notify"],
                inputs=["runs"],
                description="the newest workflow run failed",
                key=_newest("runs"),
            )
        ]
        if metric is not None:
            # Finished runs only: a metric read while its run is still being written may not be its last value.
            finished = f"metrics.`{metric}` > -1e300 and attributes.status = 'FINISHED'"
            sensors.append(MlflowRuns("metric", filter=finished))
            newest = _newest("metric")
            if below is not None:
                rules.append(Rule("metric-low", _crossing(metric, below, "below"), ["notify"], ["metric"], key=newest))
            if above is not None:
                rules.append(Rule("metric-high", _crossing(metric, above, "above"), ["notify"], ["metric"], key=newest))
        super().__init__(
            name, sensors=sensors, rules=rules, actuators=[_notify(notify)], app=app, interval=interval, **options
        )


def _newest(sensor: str) -> Callable[[Mapping[str, Any]], Any]:
    """A rule key: the id of the newest run an MlflowRuns sensor read (one firing per run, however its metrics and
    status change while it is written)."""
    return lambda values: values[sensor][0]["run_id"] if values[sensor] else None


def _run_failed(values: Mapping[str, Any]) -> list[str]:
    runs = values["runs"]
    if not runs or runs[0]["status"] != "FAILED":
        return []
    run = runs[0]
    workflow = run["tags"].get("scanflow.workflow", "?")
    return [f"the run {run['tags'].get('scanflow.run_id', run['run_id'])} of workflow {workflow!r} failed"]


def _crossing(metric: str, line: float, side: str) -> Callable[[Mapping[str, Any]], list[str]]:
    def crossed(values: Mapping[str, Any]) -> list[str]:
        runs = values["metric"]
        if not runs:
            return []
        value = runs[0]["metrics"].get(metric)
        if value is None or not (value < line if side == "below" else value > line):
            return []
        return [f"{metric} = {value:.4g} in run {runs[0]['name'] or runs[0]['run_id']}, {side} {line:g}"]

    return crossed


class Checker(Agent):
    """Checks every new batch file in ``batches`` for drift with ``detector``; each check is an MLflow run of the
    application's experiment (``tags.scanflow.check = true``). When a batch drifts, the samples above the detector's
    threshold go to the labeling session ``session`` (its pool file ``pool`` and its queue, most anomalous first)
    and a notification says so.

    Parameters
    ----------
    detector
        The detector's model URI in the application's store (``models:/digits-checker/1``), or a fitted detector.
    batches, pattern
        The folder new batches arrive in (relative to the application) and which files are batches.
    alpha
        The false-alarm rate of each batch's drift verdict.
    pool, session, store, classes
        Where flagged samples go (no pool: notify only).
    limit
        At most this many flagged samples queued per batch (the most anomalous).
    """

    kind = "checker"

    def __init__(
        self,
        app: Application,
        *,
        detector: str | AutoencoderDetector,
        batches: str | Path,
        pattern: str = "*.npz",
        alpha: float = 0.05,
        pool: str | Path | None = None,
        session: str = "session",
        store: str | Path = ".scanflow/labels.db",
        classes: str | Sequence[Any] = "",
        limit: int = 200,
        notify: Callback | None = None,
        name: str = "checker",
        interval: float = 10.0,
        **options: Any,
    ) -> None:
        classes_text = classes if isinstance(classes, str) else ",".join(str(c) for c in classes)
        actuators: list[Actuator] = [_notify(notify)]
        then = ["notify"]
        if pool is not None:
            actuators.insert(
                0,
                QueueForLabeling(
                    "queue", sensor="batch", pool=pool, session=session, store=store, classes=classes_text
                ),
            )
            then = ["queue", "notify"]
        super().__init__(
            name,
            sensors=[DriftCheck("batch", detector=detector, folder=batches, pattern=pattern, alpha=alpha, limit=limit)],
            rules=[Rule("drift", _drifted, then=then, description="the newest batch drifted")],
            actuators=actuators,
            app=app,
            interval=interval,
            **options,
        )


def _drifted(values: Mapping[str, Any]) -> list[str]:
    batch = values["batch"]
    if not batch.get("batch") or not batch.get("drift"):
        return []
    return [
        f"batch {batch['batch']} drifted: p = {batch['p_value']:.3g} <= alpha {batch['alpha']:g}",
        f"{batch['n_over_threshold']} of its {batch['n']} samples ({batch['share_over_threshold']:.0%}) score above "
        f"the detector's threshold; the {len(batch['flagged'])} most anomalous go to labeling",
    ]


class Improver(Agent):
    """Retrains when drift has been found since the last training and its samples are labeled.

    It reads the application's drift checks (finished MLflow runs with ``drift.detected = 1``: the checker agent's,
    a checker step's, ``%scanflow check --log``'s), its finished runs of
    ``workflow``, and the labeling session's progress. Rule ``retrain`` holds when the newest drift is newer than the
    newest finished training run, the session has at least ``min_labels`` labels, and (with ``wait_for_queue``)
    no flagged sample waits to be labeled. It then exports the labels to ``labeled`` (``holdout`` of them to
    ``holdout_out``, for the planner to evaluate on) and runs ``workflow``, at most once per ``cooldown`` seconds.
    """

    kind = "improver"

    def __init__(
        self,
        app: Application,
        *,
        workflow: str = "train",
        session: str = "session",
        pool: str | Path = "labeling/pool.npz",
        store: str | Path = ".scanflow/labels.db",
        labeled: str | Path = "work/labeled.npz",
        holdout: float = 0.25,
        holdout_out: str | Path = "work/labeled-holdout.npz",
        min_labels: int = 20,
        wait_for_queue: bool = True,
        cooldown: float = 300.0,
        params: dict[str, Any] | None = None,
        force: bool = True,
        notify: Callback | None = None,
        name: str = "improver",
        interval: float = 10.0,
        **options: Any,
    ) -> None:
        trained = (
            f"tags.`scanflow.kind` = 'run' and tags.`scanflow.workflow` = '{workflow}' "
            "and attributes.status = 'FINISHED'"
        )
        sensors = [
            MlflowRuns("drift", filter=DRIFT_FOUND),
            MlflowRuns("trained", filter=trained),
            LabelCount("labels", session=session, store=store),
        ]
        actuators = [
            ExportLabels(
                "export-labels", pool=pool, session=session, store=store, out=labeled, holdout=holdout,
                holdout_out=holdout_out,
            ),
            RunWorkflow("retrain", workflow, params=params, force=force),
            _notify(notify),
        ]  # fmt: skip
        rule = Rule(
            "retrain",
            _retrain(min_labels, wait_for_queue, session, workflow),
            then=["export-labels", "retrain", "notify"],
            cooldown=cooldown,
            description=f"drift since the last {workflow!r} run, and its samples labeled",
        )
        super().__init__(
            name, sensors=sensors, rules=[rule], actuators=actuators, app=app, interval=interval, **options
        )


def _retrain(
    min_labels: int, wait_for_queue: bool, session: str, workflow: str
) -> Callable[[Mapping[str, Any]], list[str]]:
    def holds(values: Mapping[str, Any]) -> list[str]:
        if not values["drift"]:
            return []
        drift = values["drift"][0]
        trained = values["trained"][0] if values["trained"] else None
        if trained is not None and trained["start_time"] >= drift["start_time"]:
            return []  # trained since that drift was found
        labels = values["labels"]
        if labels["labeled"] < min_labels or (wait_for_queue and labels["queued"] > 0):
            return []
        since = (
            f"the last {workflow!r} run ({_when(trained['start_time'])}) is older"
            if trained
            else f"no {workflow!r} run finished yet"
        )
        return [
            f"drift found by {drift['name'] or drift['run_id']} at {_when(drift['start_time'])}; {since}",
            f"{labels['labeled']} samples labeled in session {session!r} (at least {min_labels}), none waiting",
        ]

    return holds


class Planner(Agent):
    """Compares the newest version of ``model`` with the one holding ``alias``, both scored on the application's
    evaluation data (the ``evaluation`` files, ``.npz`` with ``x`` and ``y``), and moves the alias to the candidate
    when it scores more than ``margin`` better (or when no version holds it yet, or the one that does fails to load).

    Promotion is earned: a version is promoted only once it has been scored on those files. Without them (none
    given, or none there yet) the planner keeps the alias where it is and says why (rule ``keep``). A candidate
    whose source run is not a run of this application (tag ``scanflow.app``), that does not load within
    ``load_timeout`` seconds, fails to load or fails to predict is rejected (rule ``reject``: the version gets the
    tags ``scanflow.rejected`` and ``scanflow.rejected_by``), never promoted. The ``metric`` its run logged is shown
    beside the scores, never used to choose.

    Rules: ``promote`` moves the alias, ``keep`` records that it stays, ``reject`` that the candidate was refused;
    each is one decision per pair of versions compared (an MLflow run with the reasons)."""

    kind = "planner"

    def __init__(
        self,
        app: Application,
        *,
        model: str,
        alias: str = "production",
        evaluation: Sequence[str | Path] = (),
        metric: str = "accuracy",
        margin: float = 0.0,
        load_timeout: float = 120.0,
        notify: Callback | None = None,
        name: str = "planner",
        interval: float = 10.0,
        **options: Any,
    ) -> None:
        files = [evaluation] if isinstance(evaluation, str | Path) else list(evaluation)
        scores = ModelScores("scores", model, alias=alias, evaluation=files, metric=metric, load_timeout=load_timeout)
        actuators = [
            PromoteModel("promote", model=model, alias=alias, version=_candidate_version),
            RejectModel("reject", model=model, version=_candidate_version, reason=_rejection),
            _notify(notify),
        ]
        rules = [  # one decision per pair of versions compared, whatever the scores do meanwhile
            Rule("promote", _promote(alias, margin), then=["promote", "notify"], key=_versions),
            Rule("keep", _keep(alias, margin), then=["notify"], key=_versions),
            Rule("reject", _reject(alias), then=["reject", "notify"], key=_versions),
        ]
        super().__init__(
            name, sensors=[scores], rules=rules, actuators=actuators, app=app, interval=interval, **options
        )


def _versions(values: Mapping[str, Any]) -> list[str | None]:
    scores = values["scores"]
    return [(scores[role] or {}).get("version") for role in ("production", "candidate")]


def _candidate_version(decision: Decision) -> str | None:
    candidate = decision.values["scores"]["candidate"]
    return str(candidate["version"]) if candidate else None


def _rejection(decision: Decision) -> str:
    candidate = decision.values["scores"]["candidate"] or {}
    return str(candidate.get("rejected") or "")


def _stays(alias: str, production: Mapping[str, Any] | None) -> str:
    return f"{alias!r} stays on v{production['version']}" if production else f"{alias!r} stays unset"


def _promote(alias: str, margin: float) -> Callable[[Mapping[str, Any]], list[str]]:
    def holds(values: Mapping[str, Any]) -> list[str]:
        scores = values["scores"]
        candidate, production = scores["candidate"], scores["production"]
        if candidate is None or candidate["rejected"] or candidate["score"] is None:
            return []  # only a version scored on the evaluation data is ever promoted
        on = ", ".join(scores["evaluation"])
        mark = f"v{candidate['version']} scores {candidate['score']:.3f} on {on}"
        if production is None:
            return [f"no version of {scores['model']!r} holds {alias!r} yet: v{candidate['version']} is the first "
                    f"candidate", f"{mark}; {alias!r} moves to it"]  # fmt: skip
        if production["rejected"]:
            return [f"production v{production['version']} is rejected: {production['rejected']}",
                    f"{mark}; {alias!r} moves to it"]  # fmt: skip
        if production["score"] is None:
            return []
        gain = candidate["score"] - production["score"]
        if gain <= margin:  # a tie keeps production
            return []
        return [_comparison(scores, margin), f"{alias!r} moves to v{candidate['version']}"]

    return holds


def _comparison(scores: Mapping[str, Any], margin: float) -> str:
    candidate, production = scores["candidate"], scores["production"]
    gain = candidate["score"] - production["score"]
    return (
        f"candidate v{candidate['version']} scores {candidate['score']:.3f} against production "
        f"v{production['version']}'s {production['score']:.3f} on {', '.join(scores['evaluation'])} ({gain:+.3f}, "
        f"margin {margin:g})"
    )


def _keep(alias: str, margin: float) -> Callable[[Mapping[str, Any]], list[str]]:
    def holds(values: Mapping[str, Any]) -> list[str]:
        scores = values["scores"]
        candidate, production = scores["candidate"], scores["production"]
        if candidate is None or candidate["rejected"]:
            return []
        if candidate["score"] is None:  # nothing to score it on: it is not promoted on trust
            missing = ", ".join(scores["missing"])
            why = f"none of its evaluation files is there yet ({missing})" if missing else "it has no evaluation files"
            return [
                f"v{candidate['version']} is not promoted: it was not scored on the application's evaluation data "
                f"({why}; give the planner evaluation=[...] files with x and y)",
                _stays(alias, production),
            ]
        if production is None or production["rejected"] or production["score"] is None:
            return []
        if candidate["score"] - production["score"] > margin:
            return []
        return [_comparison(scores, margin), _stays(alias, production)]

    return holds


def _reject(alias: str) -> Callable[[Mapping[str, Any]], list[str]]:
    def holds(values: Mapping[str, Any]) -> list[str]:
        scores = values["scores"]
        candidate = scores["candidate"]
        if candidate is None or not candidate["rejected"]:
            return []
        return [f"candidate {candidate['rejected']}", _stays(alias, scores["production"])]

    return holds
