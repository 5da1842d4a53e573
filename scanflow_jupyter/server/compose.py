"""The document editor's edits: ``scanflow.yaml`` text in, the edited text out.

The editor in the browser holds the file's text (JupyterLab's document model: dirty state, save, revert, undo);
each canvas edit sends that text and one composer message (``labextension/src/composer/messages.ts``) here, where
it is applied with :mod:`scanflow_jupyter.workflow.edit`, the same checked edits as the notebook composer: a
refused edit (a cycle, a duplicate name) leaves the text as it was and answers with the validation message.

Example
-------
>>> out = apply_message(text, None, {"event": "add", "group": "", "name": "train"}, folder)    # doctest: +SKIP
>>> out["text"]                                                                                # doctest: +SKIP
'scanflow: 1\\nname: demo\\n...'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from ..errors import Problem, WorkflowValidationError
from ..workflow import Application, Executor, Parameter, Workflow, edit
from ..workflow.spec import loads, write_atomic
from ..workflow.tree import composer_tree


class ProblemData(TypedDict):
    where: str
    message: str


class Document(TypedDict):
    """What the editor draws from a text: the canonical text, the workflows, the composer tree of one of them
    (``spec``), and every validation problem (``where`` is a node address or a spec path)."""

    text: str
    workflows: list[str]
    workflow: str
    spec: dict[str, Any]
    problems: list[ProblemData]
    python_code: NotRequired[str]


class MessageError(ValueError):
    """A message that is not of the protocol's shape (a bug in the caller, not a user's mistake)."""


def _problems(items: list[Problem]) -> list[ProblemData]:
    return [{"where": p.where, "message": p.message} for p in items]


def _strip_workflow(where: str, workflow: str) -> str:
    """Problems name nodes as ``workflow/address`` or ``workflow.address``; the canvas knows addresses."""
    for sep in ("/", "."):
        if where.startswith(workflow + sep):
            return where[len(workflow) + 1 :]
    return where


def read(text: str, folder: Path, workflow: str | None = None, source: str = "scanflow.yaml") -> Document:
    """Parse ``text`` (raises ``WorkflowValidationError`` when it is not a spec) and describe it for the editor."""
    app = loads(text, folder=folder, source=source)
    return describe(app, workflow)


def describe(app: Application, workflow: str | None = None) -> Document:
    names = [w.name for w in app.workflows]
    chosen = workflow if workflow in names else (names[0] if names else "")
    spec = composer_tree(app, app.workflow(chosen)) if chosen else {}
    problems = _problems(app.problems())
    for p in problems:
        p["where"] = _strip_workflow(p["where"], chosen) if chosen else p["where"]
    return {"text": app.to_yaml(), "workflows": names, "workflow": chosen, "spec": spec, "problems": problems}


def _text(message: Mapping[str, Any], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str):
        raise MessageError(f"the {message.get('event')!r} message has no {key!r} text")
    return value


def _edits() -> dict[str, Callable[[Application, str, Mapping[str, Any]], object]]:
    def add(app: Application, wf: str, m: Mapping[str, Any]) -> object:
        name = _text(m, "name")
        kind = m.get("kind", "script")
        group = _text(m, "group")
        node: Executor | Workflow
        if kind == "workflow":
            node = edit.new_group(name)
        elif kind == "function":
            node = Executor(name=name, function=str(m.get("function") or f"tasks:{name.replace('-', '_')}"))
        else:
            node = Executor(name=name, script=str(m.get("script") or f"steps/{name}.py"))
        after = m.get("after")
        return edit.add_node(app, wf, group, node, after=[str(a) for a in after] if isinstance(after, list) else [])

    return {
        "add": add,
        "connect": lambda a, wf, m: edit.connect(a, wf, _text(m, "source"), _text(m, "target")),
        "disconnect": lambda a, wf, m: edit.disconnect(a, wf, _text(m, "source"), _text(m, "target")),
        "delete": lambda a, wf, m: edit.delete(a, wf, _text(m, "address")),
        "group": lambda a, wf, m: edit.group(a, wf, [str(x) for x in m.get("addresses") or []], _text(m, "name")),
        "set_param": lambda a, wf, m: edit.set_parameter(
            a, wf, _text(m, "address"), _text(m, "name"), m.get("value"), m.get("type")
        ),
        "remove_param": lambda a, wf, m: edit.remove_parameter(a, wf, _text(m, "address"), _text(m, "name")),
        "set_field": lambda a, wf, m: edit.set_field(a, wf, _text(m, "address"), _text(m, "field"), m.get("value")),
    }


EVENTS = (*_edits(), "export")


def apply_message(text: str, workflow: str | None, message: Mapping[str, Any], folder: Path) -> Document:
    """Apply one composer message to the application ``text`` describes; the edited document. A refused edit
    raises ``WorkflowValidationError`` (its message is what the canvas shows); a malformed message raises
    :class:`MessageError`."""
    event = message.get("event")
    if event == "export":  # Python code that rebuilds the application, as the notebook composer exports it
        from ..workflow.pycode import to_python

        app = loads(text, folder=folder)
        doc = describe(app, workflow)
        doc["python_code"] = to_python(app)
        return doc
    handler = _edits().get(event) if isinstance(event, str) else None
    if handler is None:
        raise MessageError(f"unknown composer message {event!r}; the editor sends one of {', '.join(EVENTS)}")
    app = loads(text, folder=folder)
    chosen = app.workflow(workflow).name
    handler(app, chosen, message)
    return describe(app, chosen)


def write_stubs(text: str, folder: Path, scripts: list[str]) -> list[str]:
    """Write a placeholder script (:func:`~scanflow_jupyter.workflow.edit.stub_script`) for each step of ``text``
    whose script is in ``scripts`` and missing in ``folder``; the scripts written. Paths leading out of the
    folder are left alone (validation reports them)."""
    app = loads(text, folder=folder)
    wanted = set(scripts)
    written = []
    base = folder.resolve()
    for wf in app.workflows:
        for _address, node in wf.walk():
            if not isinstance(node, Executor) or node.script is None or node.script not in wanted:
                continue
            target = (base / node.script).resolve()
            if not target.is_relative_to(base) or target.exists():
                continue
            write_atomic(target, edit.stub_script(node.name, node.parameters))
            written.append(node.script)
    return written


TEMPLATE_STEP = '''"""The first step of a new scanflow application: replace it with real work."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--message", default="hello")
args, _unknown = parser.parse_known_args()
print(args.message)
'''


def new_application(folder: Path, name: str) -> Path:
    """Create an application in ``folder`` (new or empty): a ``scanflow.yaml`` with one workflow ``main`` of
    one step ``hello`` (``steps/hello.py``); returns the spec file. An existing ``scanflow.yaml`` is refused."""
    from ..workflow.spec import SPEC_FILE

    spec = folder / SPEC_FILE
    if spec.exists():
        raise WorkflowValidationError(
            [Problem(str(spec), "an application is already there; open it, or choose another folder")],
            subject=f"new application {name!r}",
        )
    app = Application(
        name=name,
        workflows=[
            Workflow(
                name="main",
                nodes=[
                    Executor(
                        name="hello",
                        script="steps/hello.py",
                        parameters={"message": Parameter(type="str", default="hello")},
                    )
                ],
            )
        ],
    )
    app.validate(check_files=False)  # a bad name is refused before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "steps" / "hello.py", TEMPLATE_STEP)
    return app.save(folder)
