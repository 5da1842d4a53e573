"""Checked edits (the composer's operations): valid ones apply, invalid ones are refused and change nothing."""

from __future__ import annotations

import pytest

from scanflow_jupyter.errors import WorkflowValidationError
from scanflow_jupyter.workflow import Application, Executor, Workflow, edit


def _app() -> Application:
    return Application(
        name="demo",
        workflows=[
            Workflow(
                name="main",
                nodes=[
                    Executor(name="a", function="m:f"),
                    Executor(name="b", function="m:f", depends_on=["a"]),
                    Executor(name="c", function="m:f", depends_on=["b"]),
                    Workflow(name="inner", depends_on=["a"], nodes=[Executor(name="x", function="m:f")]),
                ],
            )
        ],
    )


def test_add_connect_delete() -> None:
    app = _app()
    edit.add_node(app, "main", "inner", Executor(name="y", function="m:g"), after=["x"])
    assert app.workflow().find("inner/y").depends_on == ["x"]  # type: ignore[union-attr]
    edit.connect(app, "main", "c", "inner")
    assert app.workflow().find("inner").depends_on == ["a", "c"]
    edit.disconnect(app, "main", "a", "inner")
    edit.delete(app, "main", "b")
    assert [n.name for n in app.workflow().nodes] == ["a", "c", "inner"]
    assert app.workflow().find("c").depends_on == []
    app.validate(check_files=False)


@pytest.mark.parametrize(
    "do,message",
    [
        (lambda app: edit.connect(app, "main", "c", "a"), r"dependency cycle"),
        (lambda app: edit.add_node(app, "main", "", Executor(name="b", function="m:f")), r"two nodes are named 'b'"),
        (lambda app: edit.add_node(app, "main", "", Executor(name="Bad Name", function="m:f")), r"DNS-1123"),
        (lambda app: edit.connect(app, "main", "a", "inner/x"), r"dependencies link nodes of the same workflow"),
        (lambda app: edit.delete(app, "main", "nope"), r"no node 'nope'"),
        (lambda app: edit.set_parameter(app, "main", "a", "epochs", "ten", "int"), r"expects an int, got 'ten'"),
        (lambda app: edit.group(app, "main", ["a", "inner/x"], "g"), r"select siblings"),
    ],
    ids=["cycle", "duplicate", "bad name", "across levels", "unknown node", "bad param", "group across levels"],
)
def test_invalid_edits_are_refused_and_change_nothing(do, message: str) -> None:  # type: ignore[no-untyped-def]
    app = _app()
    before = app.model_dump()
    with pytest.raises(WorkflowValidationError, match=message):
        do(app)
    assert app.model_dump() == before


def test_group_moves_siblings_into_a_nested_workflow() -> None:
    app = _app()
    edit.group(app, "main", ["b", "c"], "train")
    wf = app.workflow()
    assert [n.name for n in wf.nodes] == ["a", "train", "inner"]
    train = wf.find("train")
    assert isinstance(train, Workflow) and train.depends_on == ["a"]
    assert [(n.name, n.depends_on) for n in train.nodes] == [("b", []), ("c", ["b"])]
    app.validate(check_files=False)


def test_set_parameter_keeps_or_infers_the_type() -> None:
    app = _app()
    edit.set_parameter(app, "main", "a", "epochs", "12", "int")
    edit.set_parameter(app, "main", "a", "epochs", "13")
    param = app.workflow().find("a").parameters["epochs"]  # type: ignore[union-attr]
    assert (param.type, param.default) == ("int", 13)
    edit.remove_parameter(app, "main", "a", "epochs")
    assert app.workflow().find("a").parameters == {}  # type: ignore[union-attr]
