"""References to upstream values in parameters: ``rows: "${gather.n_rows}"``.

A parameter whose default is exactly one reference takes the value itself (coerced to the parameter's type); a
reference inside a longer string is replaced by the value's text (``"data-${split.part}.csv"``). ``STEP`` is a
sibling of the step (a step of the same nested workflow) or a full address (``modeling/linear``), and must be
upstream of it. The engine resolves references when the step is about to run (or to be reused from the cache).

Example
-------
>>> references_in("${gather.n_rows}")
['gather.n_rows']
>>> references_in("part-${split.index}-of-${split.count}")
['split.index', 'split.count']
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .model import Executor

REFERENCE = re.compile(r"\$\{([^{}]*)\}")
# What a reference holds: a step address (DNS labels joined by '/') and a value name (see scanflow_jupyter.step).
REFERENCE_BODY = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.[A-Za-z_][A-Za-z0-9_-]*$"
)


def references_in(value: object) -> list[str]:
    """The ``STEP.NAME`` references in a parameter value (none for a value that is not a string)."""
    if not isinstance(value, str):
        return []
    return [m.group(1).strip() for m in REFERENCE.finditer(value)]


def parameter_references(executor: Executor) -> Iterator[tuple[str, str]]:
    """``(parameter, reference)`` for every reference in the executor's parameter defaults."""
    for name, param in executor.parameters.items():
        for ref in references_in(param.default):
            yield name, ref


def candidates(reference: str, address: str) -> list[str]:
    """The step addresses ``reference`` may name, seen from the step at ``address``: a sibling first, then a full
    address."""
    step = reference.rpartition(".")[0]
    prefix = address.rpartition("/")[0]
    return [f"{prefix}/{step}", step] if prefix else [step]


def render(value: Any) -> str:
    """A value's text inside a longer string: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def substitute(text: str, lookup: Callable[[str], Any]) -> Any:
    """``text`` with its references replaced through ``lookup(reference)``: the value itself when ``text`` is one
    reference, else a string."""
    whole = REFERENCE.fullmatch(text.strip())
    if whole is not None:
        return lookup(whole.group(1).strip())
    return REFERENCE.sub(lambda m: render(lookup(m.group(1).strip())), text)


def has_references(values: Mapping[str, Any]) -> bool:
    return any(references_in(v) for v in values.values())
