"""Sensors: what agents read.

- :class:`MlflowRuns`: runs of an experiment matching an MLflow filter (the latest check that found drift, the
  latest training run, a metric of the latest evaluation).
- :class:`NewFiles`: files that arrived in a folder since the agent last looked (new batches).
- :class:`Every`: a clock, for schedules.
- :class:`LabelCount`: how many samples a labeling session has labeled, and how many wait in its queue.
- :class:`ModelVersions`: the versions of a registered model and its aliases.
- :class:`DriftCheck`: each new batch in a folder, checked for drift with a detector (and recorded in MLflow).
- :class:`ModelScores`: the model version holding an alias and the newest version, scored on evaluation files.
- :class:`FunctionSensor`: any function of the context.

A sensor that cannot read raises :class:`~scanflow_jupyter.errors.SensorError` naming itself and the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ScanflowError, SensorError
from ..tracking.store import redact
from .core import Context, Sensor
from .deadline import call_within
from .models import accuracy, aliases, is_not_found, local_model, versions

if TYPE_CHECKING:
    from ..checking import AutoencoderDetector, SequenceDetector

__all__ = [
    "DriftCheck",
    "Every",
    "FunctionSensor",
    "LabelCount",
    "MlflowRuns",
    "ModelScores",
    "ModelVersions",
    "NewFiles",
]


class MlflowRuns(Sensor):
    """The runs of an experiment that match an MLflow ``filter``, newest first (``max_results`` of them).

    Each run is ``{"run_id", "name", "status", "start_time", "end_time", "metrics", "tags"}`` (times in seconds;
    ``tags`` only those named in ``tags``). An experiment that does not exist yet reads as no runs.

    Example
    -------
    >>> MlflowRuns("drift", filter="tags.`scanflow.check` = 'true' and metrics.`drift.detected` = 1")
    MlflowRuns('drift')
    """

    kind = "mlflow runs"
    needs_tracker = True

    def __init__(
        self,
        name: str,
        *,
        filter: str = "",
        experiment: str | None = None,
        order_by: Sequence[str] = ("attributes.start_time DESC",),
        max_results: int = 1,
        tags: Sequence[str] = (),
    ) -> None:
        super().__init__(name)
        self.filter = filter
        self.experiment = experiment
        self.order_by = list(order_by)
        self.max_results = max_results
        self.tags = list(tags)

    def measure(self, ctx: Context) -> Any:
        where = self.experiment or ctx.experiment
        try:
            experiment_id = ctx.experiment_id(where)
        except Exception as exc:
            raise SensorError(
                redact(
                    f"sensor {self.name!r} of agent {ctx.agent!r} cannot reach the MLflow store {ctx.tracking_uri} "
                    f"({type(exc).__name__}: {exc}); check that it is running and the URI is right"
                ),
                self.name,
            ) from exc
        if experiment_id is None:
            return []
        try:
            runs = ctx.client().search_runs(
                [experiment_id], filter_string=self.filter, order_by=self.order_by, max_results=self.max_results
            )
        except Exception as exc:
            reason = str(getattr(exc, "message", exc)).strip().splitlines()[0][:300]
            raise SensorError(
                f"sensor {self.name!r} of agent {ctx.agent!r}: MLflow refused the query {self.filter!r} on experiment "
                f"{where!r} ({reason}). Fix the filter: MLflow's search syntax, such as \"metrics.accuracy < 0.9 and "
                "tags.`scanflow.workflow` = 'train'\" (keys with dots in backticks, text values in single quotes)",
                self.name,
            ) from exc
        return [
            {
                "run_id": run.info.run_id,
                "name": run.info.run_name or "",
                "status": run.info.status,
                "start_time": (run.info.start_time or 0) / 1000.0,
                "end_time": (run.info.end_time or 0) / 1000.0 if run.info.end_time else None,
                "metrics": dict(run.data.metrics),
                "tags": {k: run.data.tags[k] for k in self.tags if k in run.data.tags},
            }
            for run in runs
        ]

    def summarize(self, value: Any) -> str:
        if not value:
            return "no matching run"
        first = value[0]
        more = f" (+{len(value) - 1} more)" if len(value) > 1 else ""
        return f"{first['name'] or first['run_id']} {first['status']}{more}"

    def describe(self) -> str:
        return f"MLflow runs where {self.filter or 'any'}"


class NewFiles(Sensor):
    """Files matching ``pattern`` in ``folder`` (relative to the application) not seen before, oldest first, at most
    ``per_reading`` a reading. Its value is ``{"files": [...], "waiting": n}``; with no new file, ``files`` is empty.
    The files seen are remembered across restarts."""

    kind = "new files"

    def __init__(self, name: str, folder: str | Path, pattern: str = "*", *, per_reading: int = 1) -> None:
        super().__init__(name)
        self.folder = Path(folder)
        self.pattern = pattern
        self.per_reading = max(1, per_reading)
        self.seen: set[str] = set()

    def _new(self, ctx: Context) -> tuple[list[Path], int]:
        folder = ctx.path(self.folder)
        if not folder.is_dir():
            raise SensorError(
                f"sensor {self.name!r} of agent {ctx.agent!r} watches the folder {str(folder)!r}, which does not "
                "exist; create it (new files arrive there) or fix the folder in the agent's settings",
                self.name,
            )
        fresh = [p for p in folder.glob(self.pattern) if p.is_file() and not p.name.startswith(".")]
        fresh = [p for p in fresh if self._key(ctx, p) not in self.seen]
        fresh.sort(key=lambda p: (p.stat().st_mtime, p.name))
        taken = fresh[: self.per_reading]
        for path in taken:
            self.seen.add(self._key(ctx, path))
        return taken, len(fresh) - len(taken)

    @staticmethod
    def _key(ctx: Context, path: Path) -> str:
        try:
            return str(path.relative_to(ctx.folder))
        except ValueError:
            return str(path)

    def measure(self, ctx: Context) -> Any:
        taken, waiting = self._new(ctx)
        return {"files": [self._key(ctx, p) for p in taken], "waiting": waiting}

    def summarize(self, value: Any) -> str:
        files = value.get("files") or []
        waiting = f" ({value['waiting']} waiting)" if value.get("waiting") else ""
        return (", ".join(files) if files else "nothing new") + waiting

    def state(self) -> dict[str, Any]:
        return {**super().state(), "seen": sorted(self.seen)}

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self.seen = set(state.get("seen", []))

    def describe(self) -> str:
        return f"new {self.pattern} files in {self.folder}"


class Every(Sensor):
    """A clock: its value ``{"count": n}`` goes up every ``seconds``, so a rule reading it fires on that schedule."""

    kind = "schedule"

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(name)
        if seconds <= 0:
            raise SensorError(f"sensor {name!r}: a schedule needs a positive number of seconds", name)
        self.seconds = seconds
        self.count = 0
        self._next: float | None = None

    def measure(self, ctx: Context) -> Any:
        import time

        now = time.time()
        if self._next is None or now >= self._next:
            self.count += 1
            self._next = now + self.seconds
        return {"count": self.count}

    def summarize(self, value: Any) -> str:
        return f"period {value['count']} (every {self.seconds:g} s)"

    def describe(self) -> str:
        return f"every {self.seconds:g} s"


class LabelCount(Sensor):
    """A labeling session's progress: ``{"labeled", "queued", "newest"}``: samples labeled, samples still waiting in
    its queue (flagged by the checker), and the time of the newest label (None before the first)."""

    kind = "labels"

    def __init__(self, name: str, *, session: str, store: str | Path = ".scanflow/labels.db") -> None:
        super().__init__(name)
        self.session = session
        self.store = Path(store)

    def measure(self, ctx: Context) -> Any:
        from ..active import LabelStore

        path = ctx.path(self.store)
        empty = {"labeled": 0, "queued": 0, "newest": None}
        if not path.is_file():
            return empty
        labels = LabelStore(path)
        try:
            if self.session not in labels.sessions():
                return empty
            current = labels.current(self.session)
            return {
                "labeled": len(current),
                "queued": len(labels.queued(self.session)),
                "newest": max((r.time for r in current), default=None),
            }
        finally:
            labels.close()

    def summarize(self, value: Any) -> str:
        return f"{value['labeled']} labeled, {value['queued']} queued in {self.session!r}"

    def describe(self) -> str:
        return f"labels of session {self.session!r}"


class ModelVersions(Sensor):
    """The versions of registered model ``model`` and its aliases: ``{"model", "versions", "latest", "aliases"}``."""

    kind = "model versions"
    needs_tracker = True

    def __init__(self, name: str, model: str) -> None:
        super().__init__(name)
        self.model = model

    def measure(self, ctx: Context) -> Any:
        try:
            found = versions(ctx.client(), self.model)
            named = aliases(ctx.client(), self.model)
        except Exception as exc:
            raise SensorError(
                redact(
                    f"sensor {self.name!r} of agent {ctx.agent!r} cannot read the registry of {ctx.tracking_uri} "
                    f"({type(exc).__name__}: {exc})"
                ),
                self.name,
            ) from exc
        return {
            "model": self.model,
            "versions": [{k: v[k] for k in ("version", "run_id", "created")} for v in found],
            "latest": found[-1]["version"] if found else None,
            "aliases": named,
        }

    def summarize(self, value: Any) -> str:
        held = ", ".join(f"{a}: v{v}" for a, v in sorted(value["aliases"].items())) or "no alias"
        return f"{self.model}: {len(value['versions'])} version(s), latest v{value['latest']}; {held}"

    def describe(self) -> str:
        return f"versions of {self.model}"


class DriftCheck(NewFiles):
    """Each new batch file in ``folder`` checked for drift with a detector, and recorded in MLflow as a check run.

    Its value is the latest batch's outcome: ``{"batch", "drift", "p_value", "alpha", "share_over_threshold",
    "n", "n_over_threshold", "flagged", "check_run_id", "checked"}``; ``flagged`` lists ``[id, score]`` of the samples
    above the detector's threshold, most anomalous first (``limit`` at most). One batch a reading, oldest first.

    Parameters
    ----------
    detector
        A detector's model URI (``models:/digits-checker/1``) in the agent's store, or a fitted detector.
    """

    kind = "drift check"
    needs_tracker = True

    def __init__(
        self,
        name: str,
        *,
        detector: str | AutoencoderDetector | SequenceDetector,
        folder: str | Path,
        pattern: str = "*.npz",
        alpha: float = 0.05,
        test: str = "tail",
        limit: int = 200,
        record: bool = True,
    ) -> None:
        super().__init__(name, folder, pattern)
        self.detector_uri = detector if isinstance(detector, str) else None
        self._detector = None if isinstance(detector, str) else detector
        self.alpha = alpha
        self.test = test
        self.limit = limit
        self.record = record
        self.checked = 0
        self.last: dict[str, Any] = {"batch": None, "checked": 0}

    def detector(self, ctx: Context) -> AutoencoderDetector | SequenceDetector:
        if self._detector is None:
            from ..checking.mlflow_model import load_detector

            assert self.detector_uri is not None
            try:
                self._detector = load_detector(str(local_model(ctx, self.detector_uri)))
            except ScanflowError as exc:
                raise SensorError(
                    f"sensor {self.name!r} of agent {ctx.agent!r} cannot load its detector {self.detector_uri!r}: "
                    f"{exc}",
                    self.name,
                ) from exc
        return self._detector

    def measure(self, ctx: Context) -> Any:
        from ..checking.data import load_batch

        taken, waiting = self._new(ctx)
        if not taken:
            return {**self.last, "waiting": waiting}
        path = taken[0]
        batch = self._key(ctx, path)
        detector = self.detector(ctx)
        try:
            data = load_batch(path)
            report = detector.check(
                data.x,
                ids=data.ids,
                alpha=self.alpha,
                test=self.test,  # type: ignore[arg-type]  # checked by the drift test, with the fix
                top=5,
                model_uri=self.detector_uri,
            )
        except ScanflowError as exc:  # the batch is seen: it is reported once, not on every tick
            raise SensorError(
                f"sensor {self.name!r} of agent {ctx.agent!r} cannot check {batch!r}: {exc}", self.name
            ) from exc
        scores = np.asarray(report.batch_scores)
        over = np.flatnonzero(scores > report.threshold)
        over = over[np.argsort(-scores[over], kind="stable")][: self.limit]
        run_id = self._record(ctx, report, batch) if self.record else None
        self.checked += 1
        self.last = {
            "batch": batch,
            "drift": report.drift,
            "p_value": report.p_value,
            "alpha": report.alpha,
            "share_over_threshold": report.share_over_threshold,
            "n": report.batch_size,
            "n_over_threshold": report.n_over_threshold,
            # A sequence detector scores windows: their ids are the report's, not the batch file's rows.
            "flagged": [[(report.batch_ids or data.ids)[i], float(scores[i])] for i in over],
            "check_run_id": run_id,
            "checked": self.checked,
        }
        return {**self.last, "waiting": waiting}

    def _record(self, ctx: Context, report: Any, batch: str) -> str:
        from ..checking.step import record_report

        experiment_id = ctx.experiment_id(create=True)
        assert experiment_id is not None
        params = {
            "check.model_uri": self.detector_uri or "a detector object",
            "check.batch": batch,
            "check.alpha": self.alpha,
            "check.test": self.test,
            "check.agent": ctx.agent,
        }
        return record_report(
            report, tracking_uri=ctx.tracking_uri, experiment_id=experiment_id, params=params, run_name=f"check {batch}"
        )

    def summarize(self, value: Any) -> str:
        if not value.get("batch"):
            return "no batch checked yet" + (f" ({value['waiting']} waiting)" if value.get("waiting") else "")
        verdict = "DRIFT" if value["drift"] else "no drift"
        return (
            f"{value['batch']}: {verdict}, p = {value['p_value']:.3g}, {value['share_over_threshold']:.0%} of "
            f"{value['n']} over the threshold"
        )

    def state(self) -> dict[str, Any]:
        return {**super().state(), "checked": self.checked, "last_value": self.last}

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self.checked = int(state.get("checked", 0))
        self.last = dict(state.get("last_value") or {"batch": None, "checked": 0})

    def describe(self) -> str:
        return f"drift of new {self.pattern} batches in {self.folder}"


class ModelScores(Sensor):
    """The version of ``model`` holding ``alias`` (production) and the newest other version (the candidate), each
    scored on the application's evaluation data: the mean accuracy over the ``evaluation`` files (``.npz`` with
    ``x`` and ``y``), both models on the same data. Only those files decide: the metric ``metric`` that a version's
    run logged is shown beside (``metric``), never used to choose (a run can log anything).

    A version is *rejected* (``rejected`` says why; it has no score) when its source run is not a run of the
    agent's application (the tag ``scanflow.app`` of the run, or of the workflow run above it), when it does not
    load within ``load_timeout`` seconds or fails to load, or when it fails to predict on the evaluation files.

    Its value: ``{"model", "alias", "production": entry | None, "candidate": entry | None, "evaluation": [...],
    "missing": [...]}``, each entry ``{"version", "run_id", "score", "scores", "rejected", "metric"}``: the files
    scored on, and those that do not exist (yet).
    """

    kind = "model scores"
    needs_tracker = True

    def __init__(
        self,
        name: str,
        model: str,
        *,
        alias: str = "production",
        evaluation: Sequence[str | Path] = (),
        metric: str = "accuracy",
        load_timeout: float = 120.0,
    ) -> None:
        super().__init__(name)
        self.model = model
        self.alias = alias
        self.evaluation = [Path(p) for p in evaluation]
        self.metric = metric
        self.load_timeout = load_timeout
        self._verdicts: dict[tuple[str, str], dict[str, Any]] = {}  # (version, files) -> scores, or why rejected
        self._sources: dict[str, tuple[str, float | None]] = {}  # version -> (why it is foreign, logged metric)

    def measure(self, ctx: Context) -> Any:
        client = ctx.client()
        try:
            found = versions(client, self.model)
            named = aliases(client, self.model)
        except Exception as exc:
            raise SensorError(
                redact(
                    f"sensor {self.name!r} of agent {ctx.agent!r} cannot read the registry of {ctx.tracking_uri} "
                    f"({type(exc).__name__}: {exc})"
                ),
                self.name,
            ) from exc
        files = [ctx.path(p) for p in self.evaluation]
        present = [f for f in files if f.is_file()]
        missing = [str(p) for p, f in zip(self.evaluation, files, strict=True) if not f.is_file()]
        production = named.get(self.alias)
        others = [v for v in found if v["version"] != production]
        newer = others and (production is None or int(others[-1]["version"]) > int(production))
        candidate = others[-1] if newer else None
        by_version = {v["version"]: v for v in found}
        return {
            "model": self.model,
            "alias": self.alias,
            "production": self._entry(ctx, by_version.get(production or ""), present) if production else None,
            "candidate": self._entry(ctx, candidate, present) if candidate else None,
            "evaluation": [str(p) for p, f in zip(self.evaluation, files, strict=True) if f.is_file()],
            "missing": missing,
        }

    def _entry(self, ctx: Context, version: dict[str, Any] | None, files: list[Path]) -> dict[str, Any] | None:
        if version is None:
            return None
        number = version["version"]
        if number not in self._sources:
            self._sources[number] = self._source(ctx, version)
        foreign, metric = self._sources[number]
        entry: dict[str, Any] = {
            "version": number,
            "run_id": version["run_id"],
            "score": None,
            "scores": {},
            "rejected": foreign,
            "metric": metric,
        }
        if foreign or not files:
            return entry  # not scored: from elsewhere, or nothing to score it on
        key = (number, "|".join(f"{f}:{f.stat().st_mtime_ns}" for f in files))
        if key not in self._verdicts:
            self._verdicts[key] = self._score(ctx, number, files)
        verdict = self._verdicts[key]
        if verdict.get("rejected"):
            entry["rejected"] = verdict["rejected"]
        else:
            entry["scores"] = verdict["scores"]
            entry["score"] = float(np.mean(list(verdict["scores"].values())))
        return entry

    def _source(self, ctx: Context, version: dict[str, Any]) -> tuple[str, float | None]:
        """Why version ``version`` is not from the agent's application ("" when it is), and the metric its run
        logged. The run that logged it is a step's run; the tag may sit on the workflow run above it."""
        number, run_id = version["version"], version["run_id"]
        app = ctx.app.name if ctx.app is not None else None
        if not run_id:
            return (f"v{number} has no source run, so nothing shows it was trained by application {app!r}" if app
                    else "", None)  # fmt: skip
        metric: float | None = None
        tag: str | None = None
        current: str | None = run_id
        try:
            for _ in range(5):  # a step in nested workflows: a few levels at most
                if current is None:
                    break
                run = ctx.client().get_run(current)
                if metric is None:
                    metric = run.data.metrics.get(self.metric)
                tag = run.data.tags.get("scanflow.app")
                if tag:
                    break
                current = run.data.tags.get("mlflow.parentRunId")
        except ScanflowError:
            raise  # the tracker is down: not the version's fault
        except Exception as exc:
            if not is_not_found(exc):  # the store failed this time: read again next tick
                raise SensorError(
                    f"sensor {self.name!r} of agent {ctx.agent!r} cannot read run {run_id} of v{number} of "
                    f"{self.model!r} ({_first_line(exc)})",
                    self.name,
                ) from exc
            return f"v{number}'s source run {run_id} is not in the store (deleted?)", metric
        if app is None or tag == app:
            return "", metric
        said = f"its tag scanflow.app is {tag!r}" if tag else "it has no scanflow.app tag"
        return (
            f"v{number} comes from run {run_id}, which is not a run of application {app!r} ({said}); only versions "
            "the application's own workflows trained are promoted",
            metric,
        )

    def _score(self, ctx: Context, number: str, files: list[Path]) -> dict[str, Any]:
        """``{"scores": {file: accuracy}}``, or ``{"rejected": why}`` when the version fails to load (in time) or
        to predict. A model that cannot be fetched is a failed reading instead (the store may be down)."""
        import mlflow

        folder = local_model(ctx, f"models:/{self.model}/{number}")
        try:
            model = call_within(self.load_timeout, lambda: mlflow.pyfunc.load_model(str(folder)))
        except TimeoutError:
            return {"rejected": f"v{number} did not load within {self.load_timeout:g} s"}
        except Exception as exc:
            return {"rejected": f"v{number} fails to load: {_first_line(exc)}"}
        try:
            return {"scores": call_within(self.load_timeout, lambda: accuracy(model, files))}
        except TimeoutError:
            return {"rejected": f"v{number} did not predict within {self.load_timeout:g} s"}
        except Exception as exc:
            return {"rejected": f"v{number} fails to predict on the evaluation data: {_first_line(exc)}"}

    def summarize(self, value: Any) -> str:
        def show(entry: dict[str, Any] | None) -> str:
            if entry is None:
                return "none"
            if entry.get("rejected"):
                return f"v{entry['version']} (rejected)"
            score = "unscored" if entry["score"] is None else f"{entry['score']:.3f}"
            return f"v{entry['version']} ({score})"

        return f"{self.alias}: {show(value['production'])}; candidate: {show(value['candidate'])}"

    def describe(self) -> str:
        where = ", ".join(map(str, self.evaluation)) or "no evaluation files (nothing is promoted)"
        return f"{self.model}@{self.alias} and the newest version, scored on {where}"


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class FunctionSensor(Sensor):
    """A sensor from a function of the context: ``FunctionSensor("disk", lambda ctx: shutil.disk_usage("/").free)``."""

    kind = "function"

    def __init__(self, name: str, fn: Callable[[Context], Any]) -> None:
        super().__init__(name)
        self.fn = fn

    def measure(self, ctx: Context) -> Any:
        return self.fn(ctx)

    def describe(self) -> str:
        return getattr(self.fn, "__name__", "function")
