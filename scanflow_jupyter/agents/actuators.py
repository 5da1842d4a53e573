"""Actuators: what agents do.

- :class:`RunWorkflow`: run a workflow of the application (a retry resumes the failed run: the steps that
  finished are reused).
- :class:`QueueForLabeling`: put the samples a drift check flagged into a labeling session's pool and queue.
- :class:`ExportLabels`: write a session's labeled samples to a file a training step reads.
- :class:`PromoteModel`: move an alias (``production``) to a model version.
- :class:`RejectModel`: mark a model version rejected (a planner's candidate that fails to load, say).
- :class:`Notify`: say what was decided (the log, a file, a function of yours).
- :class:`Call`: any function of yours.

Each returns plain data, recorded with the decision, or raises with a message that names what failed and the fix.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AgentDefinitionError, AgentError, LabelingError, RunError
from .core import Actuator, Context, Decision
from .models import aliases, require_version

if TYPE_CHECKING:
    from ..engine.backend import Backend
    from ..engine.runner import RunResult, WorkflowRun
    from ..workflow import Application

__all__ = ["Call", "ExportLabels", "Notify", "PromoteModel", "QueueForLabeling", "RejectModel", "RunWorkflow"]

log = logging.getLogger("scanflow_jupyter.agents")

Params = Mapping[str, Any] | Callable[[Decision], Mapping[str, Any]] | None


class RunWorkflow(Actuator):
    """Run ``workflow`` of the application and wait for it; the result is its run id, status and MLflow run.

    A run that fails raises (the step's error, with its stderr); the retry resumes that run, so the steps that
    finished are not run again. Stopping the agent cancels the run.

    Parameters
    ----------
    params
        Overrides (``{"step.name": value}``), or a function of the decision giving them.
    force
        Run every step even if its cached result is valid (a retrain whose inputs the cache cannot see).
    """

    kind = "run workflow"

    def __init__(
        self,
        name: str,
        workflow: str,
        *,
        app: Application | None = None,
        params: Params = None,
        force: bool = False,
        workers: int = 1,
        backend: Backend | None = None,
        retries: int = 1,
        backoff: float = 2.0,
    ) -> None:
        super().__init__(name, retries=retries, backoff=backoff)
        self.workflow = workflow
        self.app = app
        self.params = params
        self.force = force
        self.workers = workers
        self.backend = backend
        self._failed_run: str | None = None

    def _app(self, ctx: Context) -> Application:
        app = self.app or ctx.app
        if app is None:
            raise AgentDefinitionError(
                f"actuator {self.name!r} runs workflow {self.workflow!r} but agent {ctx.agent!r} has no application; "
                "give the agent app=... (or the actuator app=...)"
            )
        return app

    def _go(self, ctx: Context, start: Callable[[Callable[[WorkflowRun], None]], RunResult]) -> dict[str, Any]:
        if ctx.stopping.is_set():
            raise AgentError(f"agent {ctx.agent!r} is stopping: workflow {self.workflow!r} was not started")
        runs: list[WorkflowRun] = []

        def started(run: WorkflowRun) -> None:
            runs.append(run)
            ctx.track(run)

        try:
            result = start(started)
        finally:
            for run in runs:
                ctx.untrack(run)
        outcome = {
            "workflow": self.workflow,
            "run_id": result.run_id,
            "status": result.status,
            "mlflow_run_id": result.state.mlflow_run_id,
            "states": {address: state.value for address, state in result.states.items()},
        }
        if not result.ok:
            self._failed_run = result.run_id
            first = next(iter(result.errors.values()), None)
            why = f": {first}" if first else ""
            raise RunError(f"workflow {self.workflow!r} run {result.run_id} {result.status}{why}")
        self._failed_run = None
        return outcome

    def act(self, ctx: Context, decision: Decision) -> Any:
        from ..engine.runner import run

        app = self._app(ctx)
        params = self.params(decision) if callable(self.params) else self.params
        return self._go(
            ctx,
            lambda started: run(
                app,
                self.workflow,
                workers=self.workers,
                force=self.force,
                params=dict(params or {}),
                backend=self.backend,
                check=False,
                on_start=started,
            ),
        )

    def retry(self, ctx: Context, decision: Decision, attempt: int, error: BaseException) -> Any:
        if self._failed_run is None:
            return self.act(ctx, decision)
        from ..engine.runner import resume

        app, run_id = self._app(ctx), self._failed_run
        return self._go(ctx, lambda started: resume(app, run_id, backend=self.backend, check=False, on_start=started))

    def describe(self) -> str:
        return f"run workflow {self.workflow!r}"


class QueueForLabeling(Actuator):
    """Put the samples a :class:`~.sensors.DriftCheck` reading flagged (its ``flagged`` ids, from the batch file)
    into the labeling pool file and the session's queue, most anomalous first."""

    kind = "queue for labeling"

    def __init__(
        self,
        name: str = "queue",
        *,
        sensor: str = "batch",
        pool: str | Path = "labeling/pool.npz",
        session: str = "session",
        store: str | Path = ".scanflow/labels.db",
        classes: str = "",
        retries: int = 2,
        backoff: float = 1.0,
    ) -> None:
        super().__init__(name, retries=retries, backoff=backoff)
        self.sensor = sensor
        self.pool = Path(pool)
        self.session = session
        self.store = Path(store)
        self.classes = classes

    def act(self, ctx: Context, decision: Decision) -> Any:
        from ..active.step import queue_samples
        from ..checking.data import load_batch

        value = decision.values.get(self.sensor) or {}
        flagged = value.get("flagged") or []
        if not value.get("batch") or not flagged:
            return {"flagged": 0, "queued": 0}
        data = load_batch(ctx.path(value["batch"]))
        row = {sample_id: i for i, sample_id in enumerate(data.ids)}
        ids = [str(sample_id) for sample_id, _ in flagged if sample_id in row]
        result = queue_samples(
            data.x[[row[i] for i in ids]],
            ids,
            [float(score) for sample_id, score in flagged if sample_id in row],
            pool=ctx.path(self.pool),
            session=self.session,
            store=ctx.path(self.store),
            classes=self.classes,
            source=value["batch"],
            reason=f"flagged by the checker in {value['batch']}",
        )
        return {**result, "session": self.session, "batch": value["batch"]}

    def describe(self) -> str:
        return f"queue flagged samples in session {self.session!r}"


class ExportLabels(Actuator):
    """Write the labeled samples of a session (from its pool file) to ``out`` (``.npz`` with ``x``, ``y``, ``ids``)
    for a training step to read; with ``holdout``, that share of them (chosen by id, so a sample stays on its side)
    goes to ``holdout_out`` instead, to evaluate on."""

    kind = "export labels"

    def __init__(
        self,
        name: str = "export-labels",
        *,
        pool: str | Path = "labeling/pool.npz",
        session: str = "session",
        store: str | Path = ".scanflow/labels.db",
        out: str | Path = "work/labeled.npz",
        holdout: float = 0.0,
        holdout_out: str | Path = "work/labeled-holdout.npz",
        retries: int = 1,
    ) -> None:
        super().__init__(name, retries=retries)
        if not 0.0 <= holdout < 1.0:
            raise AgentDefinitionError(f"actuator {name!r}: holdout must lie in [0, 1), got {holdout}")
        self.pool = Path(pool)
        self.session = session
        self.store = Path(store)
        self.out = Path(out)
        self.holdout = holdout
        self.holdout_out = Path(holdout_out)

    def act(self, ctx: Context, decision: Decision) -> Any:
        from ..active import LabelStore
        from ..checking.data import load_batch

        pool_file = ctx.path(self.pool)
        if not pool_file.is_file():
            raise LabelingError(
                f"actuator {self.name!r}: there is no pool file {str(pool_file)!r} yet, so no labels to export; the "
                "checker agent creates it when it queues flagged samples"
            )
        pool = load_batch(pool_file)
        labels_db = LabelStore(ctx.path(self.store))
        try:
            labels = labels_db.labels(self.session) if self.session in labels_db.sessions() else {}
        finally:
            labels_db.close()
        rows = [i for i, sample_id in enumerate(pool.ids) if sample_id in labels]
        if not rows:
            raise LabelingError(
                f"actuator {self.name!r}: session {self.session!r} has no labeled sample of the pool yet; label the "
                "queued samples (the labeling grid) first"
            )
        y = np.array([labels[pool.ids[i]] for i in rows])
        if all(v.lstrip("-").isdigit() for v in y):
            y = y.astype(np.int64)
        held = np.array([zlib.crc32(pool.ids[i].encode()) % 1000 < self.holdout * 1000 for i in rows], dtype=bool)
        train = [r for r, h in zip(rows, held, strict=True) if not h]
        _save(ctx.path(self.out), pool.x[train], y[~held], [pool.ids[i] for i in train])
        result = {"labels": len(rows), "train": len(train), "file": str(self.out)}
        if self.holdout:
            hold = [r for r, h in zip(rows, held, strict=True) if h]
            _save(ctx.path(self.holdout_out), pool.x[hold], y[held], [pool.ids[i] for i in hold])
            result.update({"holdout": len(hold), "holdout_file": str(self.holdout_out)})
        return result

    def describe(self) -> str:
        return f"export the labels of {self.session!r} to {self.out}"


def _save(path: Path, x: Any, y: Any, ids: list[str]) -> None:
    from ..checking.data import save_npz

    save_npz(path, x=x, y=y, ids=np.array(ids))  # a step reading it never sees half a file


class PromoteModel(Actuator):
    """Move ``alias`` of registered model ``model`` to a version: ``version`` is a number, or a function of the
    decision that gives it (the candidate a :class:`~.sensors.ModelScores` reading names, say). The version gets the
    tags ``scanflow.promoted_by`` (the agent) and ``scanflow.decision`` (the decision's MLflow run).

    A version the registry does not hold is a :class:`~scanflow_jupyter.errors.ModelVersionNotFoundError`."""

    kind = "promote model"

    def __init__(
        self,
        name: str = "promote",
        *,
        model: str,
        alias: str = "production",
        version: str | int | Callable[[Decision], str | int | None],
        retries: int = 1,
        backoff: float = 1.0,
    ) -> None:
        super().__init__(name, retries=retries, backoff=backoff)
        self.model = model
        self.alias = alias
        self.version = version

    def act(self, ctx: Context, decision: Decision) -> Any:
        chosen = self.version(decision) if callable(self.version) else self.version
        if chosen is None:
            raise AgentError(f"actuator {self.name!r}: the decision names no version of {self.model!r} to promote")
        version = str(chosen)
        client = ctx.client()
        require_version(client, self.model, version, where=f"actuator {self.name!r} of agent {ctx.agent!r}")
        previous = aliases(client, self.model).get(self.alias)
        client.set_registered_model_alias(self.model, self.alias, version)
        client.set_model_version_tag(self.model, version, "scanflow.promoted_by", ctx.agent)
        if decision.run_id:
            client.set_model_version_tag(self.model, version, "scanflow.decision", decision.run_id)
        return {"model": self.model, "alias": self.alias, "version": version, "previous": previous}

    def describe(self) -> str:
        return f"move {self.model}@{self.alias}"


class RejectModel(Actuator):
    """Mark a version of registered model ``model`` as rejected: the tags ``scanflow.rejected`` (why: ``reason``, a
    text or a function of the decision), ``scanflow.rejected_by`` (the agent) and ``scanflow.decision`` (the
    decision's MLflow run). It moves no alias."""

    kind = "reject model"

    def __init__(
        self,
        name: str = "reject",
        *,
        model: str,
        version: str | int | Callable[[Decision], str | int | None],
        reason: str | Callable[[Decision], str] = "",
        retries: int = 1,
        backoff: float = 1.0,
    ) -> None:
        super().__init__(name, retries=retries, backoff=backoff)
        self.model = model
        self.version = version
        self.reason = reason

    def act(self, ctx: Context, decision: Decision) -> Any:
        chosen = self.version(decision) if callable(self.version) else self.version
        if chosen is None:
            raise AgentError(f"actuator {self.name!r}: the decision names no version of {self.model!r} to reject")
        version = str(chosen)
        why = (self.reason(decision) if callable(self.reason) else self.reason) or "; ".join(decision.reasons)
        client = ctx.client()
        require_version(client, self.model, version, where=f"actuator {self.name!r} of agent {ctx.agent!r}")
        client.set_model_version_tag(self.model, version, "scanflow.rejected", why[:5000])
        client.set_model_version_tag(self.model, version, "scanflow.rejected_by", ctx.agent)
        if decision.run_id:
            client.set_model_version_tag(self.model, version, "scanflow.decision", decision.run_id)
        return {"model": self.model, "version": version, "rejected": why}

    def describe(self) -> str:
        return f"mark versions of {self.model} rejected"


class Notify(Actuator):
    """Say what was decided: a line in the ``scanflow_jupyter.agents`` log (at ``level``), in ``file`` (relative to
    the application), and to ``callback(message, decision)`` when given."""

    kind = "notify"

    def __init__(
        self,
        name: str = "notify",
        *,
        callback: Callable[[str, Decision], Any] | None = None,
        file: str | Path | None = None,
        level: int = logging.INFO,
        retries: int = 1,
    ) -> None:
        super().__init__(name, retries=retries, backoff=0.5)
        self.callback = callback
        self.file = Path(file) if file is not None else None
        self.level = level

    def act(self, ctx: Context, decision: Decision) -> Any:
        done = [f"{a.actuator}: {a.result}" for a in decision.actions if a.status == "done" and a.result]
        message = f"[{ctx.agent}] {decision.rule}: {'; '.join(decision.reasons)}" + (
            f" ({'; '.join(done)})" if done else ""
        )
        log.log(self.level, "%s", message)
        if self.file is not None:
            path = ctx.path(self.file)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
        if self.callback is not None:
            self.callback(message, decision)
        return {"message": message}

    def describe(self) -> str:
        return "notify" + (f" in {self.file}" if self.file else "")


class Call(Actuator):
    """An actuator from a function: ``Call("page", lambda ctx, decision: pager.send(decision.summary()))``."""

    kind = "function"

    def __init__(
        self, name: str, fn: Callable[[Context, Decision], Any], *, retries: int = 2, backoff: float = 1.0
    ) -> None:
        super().__init__(name, retries=retries, backoff=backoff)
        self.fn = fn

    def act(self, ctx: Context, decision: Decision) -> Any:
        return self.fn(ctx, decision)

    def describe(self) -> str:
        return getattr(self.fn, "__name__", "function")
