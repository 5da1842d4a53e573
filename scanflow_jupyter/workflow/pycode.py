"""Python source that rebuilds an application ("Export as Python" in the composer)."""

from __future__ import annotations

from typing import Any

from .model import Application, Executor, Parameter, Service, Workflow
from .params import infer_type

_INDENT = "    "


def _value(value: Any, depth: int) -> str:
    if isinstance(value, Parameter):
        if value.default is not None and not value.help and infer_type(value.default) == value.type:
            return repr(value.default)
        fields = value.model_dump(exclude_defaults=True) | {"type": value.type}
        return "Parameter(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"
    if isinstance(value, Executor | Service | Workflow):
        return _node(value, depth)
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{" + ", ".join(f"{k!r}: {_value(v, depth)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if value and isinstance(value[0], Executor | Service | Workflow):
            inner = _INDENT * (depth + 1)
            items = ",\n".join(inner + _value(v, depth + 1) for v in value)
            return "[\n" + items + ",\n" + _INDENT * depth + "]"
        return "[" + ", ".join(_value(v, depth) for v in value) + "]"
    return repr(value)


def _node(node: Executor | Service | Workflow | Application, depth: int) -> str:
    fields = node.model_dump(exclude_defaults=True, include=set(type(node).model_fields))
    parts = []
    for key in type(node).model_fields:
        if key == "name" or key in fields:
            parts.append(f"{key}={_value(getattr(node, key), depth)}")
    return f"{type(node).__name__}(" + ", ".join(parts) + ")"


def to_python(app: Application) -> str:
    """Source code that rebuilds ``app`` (``exec`` it and ``app`` is an equal Application).

    Example
    -------
    >>> from scanflow_jupyter.workflow import Application, Executor, Workflow
    >>> wf = Workflow(name="m", nodes=[Executor(name="a", script="a.py")])
    >>> print(to_python(Application(name="d", workflows=[wf])))  # doctest: +NORMALIZE_WHITESPACE
    from scanflow_jupyter.workflow import Application, Executor, Parameter, Resources, Service, Tracker, Workflow
    <BLANKLINE>
    app = Application(name='d', workflows=[
        Workflow(name='m', nodes=[
            Executor(name='a', script='a.py'),
        ]),
    ])
    """
    header = (
        "from scanflow_jupyter.workflow import Application, Executor, Parameter, Resources, Service, Tracker, "
        "Workflow\n\n"
    )
    body = "app = " + _node(app, 0)
    if app.folder is not None:
        body += f"\napp.folder = {str(app.folder)!r}"
    return header + body + "\n"
