"""Edits to an application, each checked before it is applied: the composer canvas calls these, and an
edit that would make the application invalid (a cycle, a duplicate name) is refused with the validation
message, leaving the application as it was.

Addresses are relative to a workflow: ``"modeling/linear"``; the workflow itself is ``""``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import Problem, WorkflowValidationError
from .model import Application, Executor, Service, Workflow
from .params import ParamType, coerce, infer_type
from .validate import find_problems


def _group(wf: Workflow, address: str) -> Workflow:
    if not address:
        return wf
    node = wf.find(address)
    if not isinstance(node, Workflow):
        raise _refuse(address, f"{address!r} is a step, not a workflow")
    return node


def _split(address: str) -> tuple[str, str]:
    parent, _, name = address.rpartition("/")
    return parent, name


def _refuse(where: str, message: str) -> WorkflowValidationError:
    return WorkflowValidationError([Problem(where, message)], subject="this edit")


def apply(app: Application, workflow: str, change: Callable[[Workflow], None]) -> Application:
    """Apply ``change`` to a copy of workflow ``workflow``; if the copy is valid (ignoring files not yet
    written), put it in ``app`` and return ``app``; otherwise raise the problems the edit introduced."""
    before = {str(p) for p in find_problems(app, check_files=False)}
    trial = app.model_copy(deep=True)
    trial.folder = app.folder
    try:
        change(trial.workflow(workflow))
    except KeyError as exc:
        raise _refuse(workflow, str(exc.args[0])) from None
    new = [p for p in find_problems(trial, check_files=False) if str(p) not in before]
    if new:
        raise WorkflowValidationError(new, subject="this edit")
    app.workflows = trial.workflows
    return app


def add_node(
    app: Application, workflow: str, group: str, node: Executor | Service | Workflow, after: list[str] | None = None
) -> Application:
    """Add ``node`` to nested workflow ``group`` (``""``: the workflow itself)."""

    def change(wf: Workflow) -> None:
        _group(wf, group).add(node, after=after or [])

    return apply(app, workflow, change)


def delete(app: Application, workflow: str, address: str) -> Application:
    """Delete a step or nested workflow and every sibling's dependency on it."""
    parent, name = _split(address)

    def change(wf: Workflow) -> None:
        _group(wf, parent).remove(name)

    return apply(app, workflow, change)


def connect(app: Application, workflow: str, source: str, target: str) -> Application:
    """Make ``target`` depend on ``source``; both must be in the same (nested) workflow."""
    s_parent, s_name = _split(source)
    t_parent = _split(target)[0]
    if s_parent != t_parent:
        raise _refuse(
            target,
            f"cannot connect {source!r} to {target!r}: dependencies link nodes of the same "
            "workflow; connect the nested workflows that hold them instead",
        )

    def change(wf: Workflow) -> None:
        node = wf.find(target)
        if s_name not in node.depends_on:
            node.depends_on.append(s_name)

    return apply(app, workflow, change)


def disconnect(app: Application, workflow: str, source: str, target: str) -> Application:
    """Remove the dependency of ``target`` on ``source``."""
    _, s_name = _split(source)

    def change(wf: Workflow) -> None:
        node = wf.find(target)
        node.depends_on = [d for d in node.depends_on if d != s_name]

    return apply(app, workflow, change)


def group(app: Application, workflow: str, addresses: list[str], name: str) -> Application:
    """Move sibling nodes into a new nested workflow ``name`` in their place. Dependencies between them stay
    inside; dependencies from outside move to the new workflow."""
    parents = {_split(a)[0] for a in addresses}
    if len(parents) != 1 or not addresses:
        raise _refuse(name, "group nodes of one workflow: select siblings")
    parent = parents.pop()
    names = [_split(a)[1] for a in addresses]

    def change(wf: Workflow) -> None:
        holder = _group(wf, parent)
        moved = [n for n in holder.nodes if n.name in names]
        if len(moved) != len(names):
            missing = sorted(set(names) - {n.name for n in moved})
            raise KeyError(f"no node {missing[0]!r} in {parent or wf.name!r}")
        outside = sorted({d for n in moved for d in n.depends_on if d not in names})
        for n in moved:
            n.depends_on = [d for d in n.depends_on if d in names]
        index = holder.nodes.index(moved[0])
        holder.nodes = [n for n in holder.nodes if n.name not in names]
        holder.nodes.insert(index, Workflow(name=name, depends_on=outside, nodes=moved))
        for other in holder.nodes:
            if other.name != name and any(d in names for d in other.depends_on):
                kept = [d for d in other.depends_on if d not in names]
                other.depends_on = [*kept, name]

    return apply(app, workflow, change)


def set_parameter(
    app: Application, workflow: str, address: str, name: str, value: Any, kind: ParamType | None = None
) -> Application:
    """Set (or add) parameter ``name`` of a step; the value is coerced to its declared (or given) type."""

    def change(wf: Workflow) -> None:
        node = wf.find(address)
        if not isinstance(node, Executor):
            raise KeyError(f"{address!r} is not an executor; only executors have parameters")
        current = node.parameters.get(name)
        ptype: ParamType = kind or (current.type if current else infer_type(value))
        try:
            typed = coerce(value, ptype)
        except ValueError as exc:
            raise WorkflowValidationError(
                [Problem(f"{address}.{name}", f"parameter {name!r} {exc}")], subject="this edit"
            ) from None
        from .model import Parameter

        node.parameters[name] = Parameter(type=ptype, default=typed, help=current.help if current else "")

    return apply(app, workflow, change)


def remove_parameter(app: Application, workflow: str, address: str, name: str) -> Application:
    """Remove parameter ``name`` of a step."""

    def change(wf: Workflow) -> None:
        node = wf.find(address)
        if isinstance(node, Executor):
            node.parameters.pop(name, None)

    return apply(app, workflow, change)


# The node properties the composer's inspector edits besides parameters and dependencies.
FIELDS = (
    "script",
    "function",
    "requirements",
    "retries",
    "timeout",
    "resources.cpu",
    "resources.memory",
    "resources.gpu",
)


def _field_value(field: str, value: Any) -> Any:
    """The spec value of ``field`` for what an input gave (text, a number, ``None``); ``""`` clears."""
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            value = None
    if value is None:
        return {"retries": 0, "resources.gpu": 0}.get(field)
    if field == "requirements" and isinstance(value, str):
        parts = [p.strip() for p in value.replace("\n", ",").split(",") if p.strip()]
        # One name ending in .txt is a requirements file; anything else is a list of packages.
        return parts[0] if len(parts) == 1 and parts[0].endswith(".txt") else parts
    if field == "resources.cpu" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value  # a quantity such as 500m; validation checks it
    return value


def set_field(app: Application, workflow: str, address: str, field: str, value: Any) -> Application:
    """Set one of :data:`FIELDS` on the node at ``address`` (``None`` or ``""`` clears it); the node is rebuilt,
    so a value of the wrong type is refused with the validation message."""
    if field not in FIELDS:
        raise _refuse(address, f"unknown field {field!r}; the composer edits {', '.join(FIELDS)}")
    parent, _ = _split(address)
    new_value = _field_value(field, value)

    def change(wf: Workflow) -> None:
        node = wf.find(address)
        if isinstance(node, Workflow) or (isinstance(node, Service) and not field.startswith("resources.")):
            raise KeyError(f"{address!r} has no {field!r}; only steps have it")
        data = node.model_dump(exclude_defaults=True)
        if field.startswith("resources."):
            resources = dict(data.get("resources") or {})
            resources[field.partition(".")[2]] = new_value
            data["resources"] = {k: v for k, v in resources.items() if v not in (None, 0)} or None
        else:
            data[field] = new_value
            other = {"script": "function", "function": "script"}.get(field)
            if other and new_value is not None:
                data[other] = None  # a step has one source
        try:
            rebuilt = type(node)(**data)
        except WorkflowValidationError as exc:
            problems = [Problem(f"{address}.{field}", p.message) for p in exc.problems]
            raise WorkflowValidationError(problems, subject="this edit") from None
        holder = _group(wf, parent)
        holder.nodes = [rebuilt if n.name == node.name else n for n in holder.nodes]

    return apply(app, workflow, change)


def new_group_script(name: str) -> str:
    """The script of the one step a new nested workflow ``name`` holds."""
    return f"steps/{name}-step.py"


def new_group(name: str) -> Workflow:
    """A new nested workflow ``name`` as the palette adds it: one stub step inside (a workflow may not be empty),
    to be renamed or replaced."""
    return Workflow(name=name, nodes=[Executor(name="step", script=new_group_script(name))])


def stub_script(name: str, parameters: Mapping[str, object]) -> str:
    """The placeholder script of a step added on the canvas: it reads its parameters (``--name value``) and prints
    them, so the workflow runs end to end before the step does real work."""
    lines = [
        f'"""Step {name!r}, added in the scanflow composer: replace this with the step\'s code.',
        "",
        "The engine passes each parameter as an option: --name value.",
        '"""',
        "",
        "import argparse",
        "",
        f"parser = argparse.ArgumentParser(description={f'Step {name!r}'!r})",
    ]
    lines += [f"parser.add_argument({'--' + param!r})" for param in parameters]
    lines += [
        "args, _unknown = parser.parse_known_args()",
        f"print({f'step {name}:'!r}, vars(args))",
        "",
    ]
    return "\n".join(lines)
