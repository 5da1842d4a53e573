"""Small values between steps, from inside a step's code: ``step.output`` and ``step.input``.

Example
-------
>>> from scanflow_jupyter import step
>>> step.output("n_rows", 340)              # in gather.py                    # doctest: +SKIP
>>> rows = step.input("gather.n_rows")      # in a step downstream of gather  # doctest: +SKIP

A downstream parameter takes a value as ``rows: "${gather.n_rows}"`` in scanflow.yaml, and a function step's return
value is its output (a returned ``dict`` gives one output per key, anything else the output ``result``).

Values are JSON (numbers, strings, booleans, null, and lists and objects of them) and at most
:data:`MAX_VALUE_BYTES` each, encoded: a table, a model or anything bigger is a file output (``outputs:``).

How they travel: the engine gives each step a folder of its own, named by ``SCANFLOW_VALUES_DIR``. Before the step
starts, the engine writes ``inputs.json`` there (the values of every step upstream of it); ``step.output`` and
``step.input`` rewrite ``outputs.json`` there (what it gave and what it read). Once the step has succeeded the
engine reads that file, keeps it with the run and logs it to the step's MLflow run. A backend that runs steps
elsewhere carries the folder there and back. Outside a run (``python gather.py``) ``step.output`` checks the value
and keeps it in this process, and ``step.input`` raises :class:`~scanflow_jupyter.errors.UnknownValueError`.

This module imports only the standard library and ``errors``: a step pays next to nothing for it.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from .errors import DuplicateOutputError, StepValueError, UnknownValueError, ValueNotJSONError, ValueTooLargeError

__all__ = ["MAX_VALUE_BYTES", "input", "output", "outputs"]

VALUES_ENV = "SCANFLOW_VALUES_DIR"  # the step's values folder (set by the engine)
NODE_ENV = "SCANFLOW_NODE"  # the step's address (set by the engine)
INPUTS_FILE = "inputs.json"  # {"node": address, "values": {upstream address: {name: value}}}
OUTPUTS_FILE = "outputs.json"  # {"outputs": {name: value}, "read": {"address.name": value}}
MAX_VALUE_BYTES = 64 * 1024
RESULT = "result"  # the output name of a function step's return value that is not a dict
# No dots (a reference splits at the last one) and nothing a file name or an MLflow param key would refuse.
VALUE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")

_given: dict[str, Any] = {}
_read: dict[str, Any] = {}
_inputs: dict[str, Any] | None = None

_FILES_HINT = (
    "write it to a file in the working directory instead and declare the file under the step's 'outputs:' in "
    "scanflow.yaml"
)


def check_name(name: object, where: str = "step.output") -> str:
    """``name`` if it is a valid value name, else ``StepValueError`` saying what a name may hold."""
    if not isinstance(name, str) or not VALUE_NAME.match(name):
        raise StepValueError(
            f"{where}: {name!r} is not a valid value name; use letters, digits, '_' and '-' (no dots), starting "
            "with a letter or '_', at most 128 characters, such as 'n_rows'.",
            str(name),
        )
    return name


def encode(name: str, value: Any) -> str:
    """``value`` as JSON text; ``ValueNotJSONError`` or ``ValueTooLargeError`` (naming ``name``) if it cannot be a
    value."""
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueNotJSONError(
            f"Value {name!r} is not JSON ({type(value).__name__}: {exc}); a value must be numbers, strings, "
            f"booleans, null, or lists and dicts of them. To pass anything else, {_FILES_HINT}.",
            name,
        ) from None
    size = len(text.encode())
    if size > MAX_VALUE_BYTES:
        raise ValueTooLargeError(
            f"Value {name!r} is {size:,} bytes as JSON, over the {MAX_VALUE_BYTES // 1024} KiB cap for values passed "
            f"between steps. To pass it, {_FILES_HINT}.",
            name,
        )
    return text


def _folder() -> str | None:
    folder = os.environ.get(VALUES_ENV)
    if folder:
        return folder
    node = os.environ.get(NODE_ENV)
    if node:
        raise StepValueError(
            f"Step {node!r} runs where scanflow does not carry values between steps yet (no {VALUES_ENV}); run the "
            "workflow locally, or pass the data as files.",
            node,
        )
    return None


def _save(folder: str) -> None:
    path = os.path.join(folder, OUTPUTS_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"outputs": _given, "read": _read}, fh, allow_nan=False, sort_keys=True)
    os.replace(tmp, path)


def output(name: str, value: Any) -> None:
    """Give the value ``name`` to the steps downstream (``step.input("this-step.name")``, ``${this-step.name}``).

    Each name once per step (``DuplicateOutputError`` the second time); JSON only, at most 64 KiB.
    """
    check_name(name)
    encode(name, value)
    folder = _folder()
    if name in _given and folder is not None:
        raise DuplicateOutputError(
            f"Step {os.environ.get(NODE_ENV, '')!r} gives the output {name!r} twice; each output name is given once "
            "per step. Give the second one another name, or collect the values in a list and give that.",
            name,
        )
    _given[name] = json.loads(json.dumps(value))  # what the next step will get (tuples become lists)
    if folder is not None:
        _save(folder)


def outputs() -> dict[str, Any]:
    """What this step has given so far, by name."""
    return dict(_given)


def returned(result: Any) -> None:
    """A function step's return value as its outputs: a dict gives one output per key, anything else but None the
    output ``result``."""
    if result is None:
        return
    if isinstance(result, dict):
        for name, value in result.items():
            check_name(name, "the function's returned dict")
            output(name, value)
    else:
        output(RESULT, result)


def _load_inputs(folder: str | None) -> dict[str, Any]:
    global _inputs
    if _inputs is None:
        if folder is None:
            _inputs = {"node": "", "values": {}}
        else:
            try:
                with open(os.path.join(folder, INPUTS_FILE)) as fh:
                    _inputs = json.load(fh)
            except FileNotFoundError:
                _inputs = {"node": os.environ.get(NODE_ENV, ""), "values": {}}
    return _inputs


def resolve(reference: str, node: str, values: dict[str, dict[str, Any]]) -> tuple[str, Any]:
    """The upstream address and the value ``reference`` (``STEP.NAME``) names, seen from step ``node``: ``STEP`` is a
    sibling of ``node`` (in the same nested workflow) or a full address (``modeling/linear``).
    ``UnknownValueError`` names what is missing and what there is."""
    step, dot, name = reference.rpartition(".")
    if not dot or not step or not VALUE_NAME.match(name):
        raise UnknownValueError(
            f"{reference!r} is not a value reference; write STEP.NAME, such as 'gather.n_rows'.", reference
        )
    prefix = node.rpartition("/")[0]
    candidates = [f"{prefix}/{step}", step] if prefix else [step]
    address = next((c for c in candidates if c in values), None)
    here = f"step {node!r}" if node else "this process"
    if address is None:
        upstream = ", ".join(sorted(values)) or "none"
        raise UnknownValueError(
            f"{reference!r}: {step!r} is not a step upstream of {here} (upstream: {upstream}). Name an upstream step, "
            "or add the step to 'depends_on'. Outside 'scanflow run' there are no upstream values.",
            reference,
        )
    given = values[address]
    if name not in given:
        names = ", ".join(sorted(given)) or "none"
        raise UnknownValueError(
            f"{reference!r}: step {address!r} gave no value {name!r} (it gave: {names}). Call "
            f"step.output({name!r}, ...) in {address!r}, or fix the name.",
            reference,
        )
    return address, given[name]


def input(reference: str) -> Any:
    """The value ``reference`` (``"gather.n_rows"``) that an upstream step gave with ``step.output``."""
    folder = _folder()
    data = _load_inputs(folder)
    address, value = resolve(reference, str(data.get("node", "")), data.get("values", {}))
    _read[f"{address}.{reference.rpartition('.')[2]}"] = value
    if folder is not None:
        _save(folder)
    return value
