"""Small values between steps, the engine's side (the step's side is :mod:`scanflow_jupyter.step`).

Each step of a run has a values folder, ``.scanflow/runs/<run-id>/values/<address>/``: before an attempt the engine
writes ``inputs.json`` there (the values of every step upstream), the step writes ``outputs.json``, and once the
step has succeeded the engine checks it and keeps ``values.json`` (what it gave and what it read), the record a
later step, a resume and a cache hit read. The same record is logged to the step's MLflow run
(``scanflow/values.json``, scalars also as ``output.NAME`` params), from where it is restored when the run folder
that had it is gone.

A backend whose steps run elsewhere carries the folder: ``Task.values`` names it on this machine, the backend makes
it the step's ``SCANFLOW_VALUES_DIR`` there and brings ``outputs.json`` back before the attempt's outcome is
reported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import step as step_api
from ..errors import StepValueError, ValueNotJSONError
from ..workflow import Executor
from ..workflow.params import ParamValue, coerce
from ..workflow.refs import references_in, substitute
from .statefile import write_error

RECORD_FILE = "values.json"
PARAM_PREFIX = "output."  # the MLflow params of a step's scalar values
PARAM_MAX = 500  # characters: longer strings are in the artifact only


@dataclass
class StepValues:
    """What one step gave (``outputs``) and read (``read``: ``{"address.name": value}``)."""

    outputs: dict[str, Any] = field(default_factory=dict)
    read: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"outputs": self.outputs, "read": self.read}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepValues:
        return cls(dict(data.get("outputs") or {}), dict(data.get("read") or {}))

    def digest(self) -> str:
        """A digest of the outputs (what a downstream cache key depends on); empty when there are none."""
        if not self.outputs:
            return ""
        return hashlib.sha256(json.dumps(self.outputs, sort_keys=True).encode()).hexdigest()


def values_dir(run_dir: Path, address: str) -> Path:
    """The values folder of step ``address`` in the run whose folder is ``run_dir``."""
    return run_dir / "values" / address.replace("/", "__")


def _write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (a temporary file renamed over it; not fsynced: a record lost
    with the machine is read back from MLflow). ``StateWriteError`` names the file and the space left, and no
    temporary file stays (a full disk)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, sort_keys=True, allow_nan=False))
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise write_error(path, exc, "the values of a step to") from exc


def prepare(folder: Path, address: str, upstream: Mapping[str, Mapping[str, Any]]) -> None:
    """Make the values folder of an attempt: the upstream values in, nothing left of an attempt before."""
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (folder / step_api.OUTPUTS_FILE).unlink()
    _write_json(folder / step_api.INPUTS_FILE, {"node": address, "values": {a: dict(v) for a, v in upstream.items()}})


def collect(folder: Path, address: str) -> StepValues:
    """What the step at ``address`` wrote, checked as ``step.output`` checks it (a step may write the file by other
    means); an empty :class:`StepValues` when it gave nothing."""
    try:
        data = json.loads((folder / step_api.OUTPUTS_FILE).read_text())
    except FileNotFoundError:
        return StepValues()
    except ValueError as exc:
        raise ValueNotJSONError(
            f"Step {address!r} left {folder / step_api.OUTPUTS_FILE} that is not JSON ({exc}); give values with "
            "step.output() only.",
            address,
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("outputs", {}), dict):
        raise ValueNotJSONError(f"Step {address!r} left values of the wrong shape; use step.output().", address)
    values = StepValues.from_json(data)
    for name, value in values.outputs.items():
        step_api.check_name(name, f"step {address!r}")
        step_api.encode(name, value)
    return values


def save(folder: Path, values: StepValues) -> Path:
    """Keep a succeeded step's values as its record; returns the record's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RECORD_FILE
    _write_json(path, values.to_json())
    return path


def load(folder: Path) -> StepValues | None:
    """A step's record, or None if there is none (or it cannot be read)."""
    try:
        return StepValues.from_json(json.loads((folder / RECORD_FILE).read_text()))
    except (OSError, ValueError, AttributeError):
        return None


def value_params(values: StepValues) -> dict[str, str]:
    """The MLflow params of a step's scalar values (``output.n_rows``); lists, dicts and long strings stay in the
    artifact."""
    out: dict[str, str] = {}
    for name, value in values.outputs.items():
        if isinstance(value, bool | int | float | str) and len(str(value)) <= PARAM_MAX:
            out[PARAM_PREFIX + name] = json.dumps(value) if isinstance(value, bool) else str(value)
    return out


def resolve_params(
    executor: Executor,
    address: str,
    overrides: Mapping[str, ParamValue],
    values: Callable[[], Mapping[str, Mapping[str, Any]]],
) -> dict[str, ParamValue]:
    """A step's parameters with its ``${STEP.NAME}`` references replaced by the upstream values (``values()``: the
    outputs of every upstream step, by address), coerced to the declared types; an override replaces a reference.
    ``UnknownValueError`` names a value that no upstream step gave."""
    resolved: dict[str, ParamValue] = {}
    table: dict[str, dict[str, Any]] | None = None

    def lookup(reference: str) -> Any:
        return step_api.resolve(reference, address, table or {})[1]

    for name, param in executor.parameters.items():
        value: Any = overrides.get(name, param.default)
        if name not in overrides and references_in(value):
            if table is None:
                table = {a: dict(v) for a, v in values().items()}
            value = substitute(str(value), lookup)
            if isinstance(value, list | dict):
                value = json.dumps(value, sort_keys=True)
        if value is None:
            continue
        try:
            resolved[name] = coerce(value, param.type)
        except ValueError as exc:
            raise StepValueError(
                f"Parameter {address}.{name} = {param.default!r} {exc}; give a value of that type from the upstream "
                f"step, or declare {name!r} with the type it gives.",
                f"{address}.{name}",
            ) from None
    return resolved
