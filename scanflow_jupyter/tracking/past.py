"""Past runs as MLflow holds them: ``sf.latest_run(app)["train"].outputs.value("n_rows")``.

A run is the parent MLflow run of a workflow run (tag ``scanflow.kind`` = ``run``); its steps are its step runs
(found by their ``scanflow.run_id`` tag, so steps of nested workflows are found too). A step's outputs are the
small values it gave with ``step.output`` (or returned, for a function step), read from its ``scanflow/values.json``
artifact when first asked for; a cached step's are those of the run it reused.

Example
-------
>>> import scanflow_jupyter as sf
>>> run = sf.latest_run(sf.load("examples/values"))     # doctest: +SKIP
>>> run["gather"].outputs.value("n_rows")              # doctest: +SKIP
340
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RunNotFoundError, UnknownValueError
from ..workflow import Application
from .store import StoreConfig, redact, resolve
from .values import client, read_values

# Every step run of one workflow run (a resumed run has a few more: its superseded attempts).
MAX_STEP_RUNS = 10_000


class StepOutputs(Mapping[str, Any]):
    """The values one step of a past run gave, by name (a read-only mapping); ``read`` holds what it read from the
    steps upstream (``{"gather.n_rows": 340}``)."""

    def __init__(self, address: str, outputs: Mapping[str, Any], read: Mapping[str, Any]) -> None:
        self.address = address
        self._outputs = dict(outputs)
        self.read = dict(read)

    def value(self, name: str) -> Any:
        """The value ``name``; ``UnknownValueError`` lists the values the step gave."""
        if name not in self._outputs:
            given = ", ".join(sorted(self._outputs)) or "none"
            raise UnknownValueError(
                f"Step {self.address!r} gave no value {name!r} in this run (it gave: {given}).",
                f"{self.address}.{name}",
            )
        return self._outputs[name]

    def __getitem__(self, name: str) -> Any:
        return self._outputs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._outputs)

    def __len__(self) -> int:
        return len(self._outputs)

    def __repr__(self) -> str:
        return f"StepOutputs({self.address!r}, {self._outputs!r})"


@dataclass
class PastStep:
    """One step of a past run: its state, parameters (as logged), MLflow run, and outputs (read on first use)."""

    address: str
    state: str
    mlflow_run_id: str
    params: dict[str, str]
    _client: Any = field(repr=False)
    _outputs: StepOutputs | None = field(default=None, repr=False)

    @property
    def outputs(self) -> StepOutputs:
        if self._outputs is None:
            data = read_values(self._client, self.mlflow_run_id) or {}
            self._outputs = StepOutputs(self.address, data.get("outputs") or {}, data.get("read") or {})
        return self._outputs


@dataclass
class PastRun:
    """A past workflow run, indexed by step address: ``run["train"]``, ``run["modeling/linear"]``."""

    run_id: str
    workflow: str
    status: str
    mlflow_run_id: str
    steps: dict[str, PastStep]

    def __getitem__(self, address: str) -> PastStep:
        if address not in self.steps:
            known = ", ".join(self.steps) or "none"
            raise KeyError(f"run {self.run_id} has no step {address!r} (its steps: {known})")
        return self.steps[address]

    def __iter__(self) -> Iterator[str]:
        return iter(self.steps)

    def __contains__(self, address: object) -> bool:
        return address in self.steps


def _quote(value: str) -> str:
    return value.replace("'", "\\'")


def latest_run(app: Application, workflow: str | None = None, *, config: StoreConfig | None = None) -> PastRun:
    """The newest tracked run of ``app`` (of ``workflow``, if given) in its MLflow store, whatever its status.

    ``RunNotFoundError`` if the store holds none.
    """
    config = config or resolve(app)
    mlflow = client(config)
    experiment = mlflow.get_experiment_by_name(config.experiment)
    where = f"store {redact(config.uri)!r}"
    if experiment is None:
        raise RunNotFoundError(f"No tracked run of {app.name!r} in {where}; start one with 'scanflow run'.")
    query = f"tags.`scanflow.kind` = 'run' AND tags.`scanflow.app` = '{_quote(app.name)}'"
    if workflow is not None:
        query += f" AND tags.`scanflow.workflow` = '{_quote(workflow)}'"
    found = mlflow.search_runs(
        [experiment.experiment_id], query, order_by=["attributes.start_time DESC"], max_results=1
    )
    if not found:
        which = f"workflow {workflow!r} of " if workflow else ""
        raise RunNotFoundError(f"No tracked run of {which}{app.name!r} in {where}; start one with 'scanflow run'.")
    parent = found[0]
    scanflow_run = parent.data.tags.get("scanflow.run_id", "")
    step_runs = mlflow.search_runs(
        [experiment.experiment_id],
        f"tags.`scanflow.run_id` = '{_quote(scanflow_run)}' AND tags.`scanflow.kind` = 'step'",
        order_by=["attributes.start_time ASC"],
        max_results=MAX_STEP_RUNS,
    )
    steps: dict[str, PastStep] = {}
    for run in step_runs:  # oldest first: a later attempt (a resume) replaces an earlier one, a superseded never wins
        address = run.data.tags.get("scanflow.node", run.info.run_name)
        if run.info.status == "KILLED" and address in steps:
            continue
        steps[address] = PastStep(
            address,
            run.data.tags.get("scanflow.state", run.info.status.lower()),
            run.info.run_id,
            dict(run.data.params),
            mlflow,
        )
    return PastRun(
        scanflow_run,
        parent.data.tags.get("scanflow.workflow", ""),
        parent.info.status.lower(),
        parent.info.run_id,
        steps,
    )
