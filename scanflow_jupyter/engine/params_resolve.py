"""Resolving what a step runs with: parameter overrides, requirements, argv."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..workflow import Application, Executor, Service, Workflow
from ..workflow.params import ParamValue, coerce, to_argv
from .launch import LAUNCHER


def parse_override(text: str) -> tuple[str, str]:
    """Split ``address.name=value`` (as given to ``--param``) into ``("address.name", "value")``."""
    key, sep, value = text.partition("=")
    if not sep or "." not in key or not key.split(".", 1)[0] or not key.split(".", 1)[1]:
        raise ParameterError(
            f"Parameter override {text!r} is not of the form STEP.NAME=VALUE (for example "
            "'preprocess.seed=3' or 'modeling/linear.c=0.5')."
        )
    return key.strip(), value


def resolve_overrides(workflow: Workflow, overrides: Mapping[str, Any] | None) -> dict[str, dict[str, ParamValue]]:
    """Check overrides (``{"step.name": value}`` or ``{"step": {"name": value}}``) against the declared
    parameters and coerce them to their types; returns ``{address: {name: value}}``."""
    leaves = workflow.leaves()
    flat: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping):
            for name, inner in value.items():
                flat[f"{key}.{name}"] = inner
        else:
            flat[key] = value
    out: dict[str, dict[str, ParamValue]] = {}
    for key, value in flat.items():
        address, _, name = key.rpartition(".")
        node = leaves.get(address)
        if not isinstance(node, Executor):
            close = difflib.get_close_matches(address, [a for a, n in leaves.items() if isinstance(n, Executor)], 1)
            hint = f"did you mean {close[0]!r}?" if close else f"steps: {', '.join(leaves)}"
            raise ParameterError(
                f"Parameter override {key!r}: no step {address!r} in workflow {workflow.name!r}; {hint}"
            )
        if name not in node.parameters:
            declared = ", ".join(node.parameters) or "none"
            raise ParameterError(
                f"Parameter override {key!r}: step {address!r} declares no parameter {name!r} (it declares: "
                f"{declared}). Declare it under 'parameters' in scanflow.yaml first."
            )
        try:
            out.setdefault(address, {})[name] = coerce(value, node.parameters[name].type)
        except ValueError as exc:
            raise ParameterError(f"Parameter {key!r} {exc}; pass a value of that type.") from None
    return out


def step_params(executor: Executor, overrides: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
    """Defaults with overrides applied, coerced to the declared types, in declaration order."""
    values: dict[str, ParamValue] = {}
    for name, param in executor.parameters.items():
        value = overrides.get(name, param.default)
        if value is not None:
            values[name] = coerce(value, param.type)
    return values


def requirements_of(app: Application, executor: Executor) -> list[str]:
    """The step's requirement lines: its own, else the application's (a file's lines, or a list)."""
    spec = executor.requirements if executor.requirements is not None else app.requirements
    if spec is None:
        return []
    if isinstance(spec, list):
        return list(spec)
    path = (app.folder or Path.cwd()) / spec
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return [f"# missing {spec}"]
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def step_command(executor: Executor | Service, params: Mapping[str, ParamValue]) -> list[str]:
    """What a step runs, independent of the interpreter: ``["script", PATH, --name, value...]`` or
    ``["call", "module:function", ...]`` (the cache key is made of this)."""
    if isinstance(executor, Service):
        raise ParameterError(f"Service {executor.name!r} cannot run as a batch step; deploy it instead.")
    if executor.script is not None:
        return ["script", executor.script, *to_argv(dict(params))]
    return ["call", str(executor.function), *to_argv(dict(params))]


def step_argv(
    executor: Executor | Service, params: Mapping[str, ParamValue], python: str = sys.executable
) -> list[str]:
    """The argv of a step, through the launcher (it needs only the standard library, so any Python 3
    interpreter, a per-step venv's included, can run it). Never a shell; parameters as ``--name value``."""
    return [python, LAUNCHER, *step_command(executor, params)]
