"""Validation reports every problem at once, each naming the offender and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scanflow_jupyter.errors import ScanflowError, WorkflowValidationError
from scanflow_jupyter.workflow import Application, Executor, Workflow, load


def _app(tmp_path: Path, nodes: list[dict[str, Any]], name: str = "demo") -> Application:
    (tmp_path / "step.py").write_text("print('hi')\n")
    spec = {"scanflow": 1, "name": name, "workflows": [{"name": "main", "nodes": nodes}]}
    (tmp_path / "scanflow.yaml").write_text(yaml.safe_dump(spec))
    return load(tmp_path)


BAD = {
    "cycle": (
        [
            {"name": "a", "script": "step.py", "depends_on": ["c"]},
            {"name": "b", "script": "step.py", "depends_on": ["a"]},
            {"name": "c", "script": "step.py", "depends_on": ["b"]},
        ],
        r"dependency cycle (a -> c -> b -> a|c -> b -> a -> c|b -> a -> c -> b) \(.*a depends on c.*\); remove one",
    ),
    "self-dependency": ([{"name": "a", "script": "step.py", "depends_on": ["a"]}], r"'a' depends on itself"),
    "unknown dependency": (
        [{"name": "prep", "script": "step.py"}, {"name": "train", "script": "step.py", "depends_on": ["prepp"]}],
        r"main/train: depends on unknown node 'prepp'.*did you mean 'prep'\?",
    ),
    "duplicate names": (
        [{"name": "a", "script": "step.py"}, {"name": "a", "script": "step.py"}],
        r"two nodes are named 'a' in workflow 'main'; rename one",
    ),
    "invalid DNS-1123 name": (
        [{"name": "Train_Model", "script": "step.py"}],
        r"step name 'Train_Model' is not a valid DNS-1123 label.*Rename it, for instance to 'train-model'",
    ),
    "name too long": ([{"name": "a" * 64, "script": "step.py"}], r"at most 63 characters"),
    "missing script": (
        [{"name": "a", "script": "nope.py"}],
        r"main/a: script 'nope.py' not found in .*create it or fix",
    ),
    "script outside the folder": ([{"name": "a", "script": "../x.py"}], r"must be a path inside the application"),
    "no source": ([{"name": "a"}], r"needs exactly one source: set either 'script'.*or 'function'"),
    "bad function reference": ([{"name": "a", "function": "train"}], r"not of the form 'module:function'"),
    "param of the wrong type": (
        [{"name": "a", "script": "step.py", "parameters": {"epochs": {"type": "int", "default": "ten"}}}],
        r"main/a.epochs: parameter 'epochs' is declared int but its default expects an int, got 'ten'",
    ),
    "param quoted number": (
        [{"name": "a", "script": "step.py", "parameters": {"epochs": {"type": "int", "default": "10"}}}],
        r"default is the string '10'; write it without quotes",
    ),
    "param name not an option": (
        [{"name": "a", "script": "step.py", "parameters": {"-rf": 1}}],
        r"parameter name '-rf' cannot be passed as '---rf'",
    ),
    "empty nested workflow": (
        [{"name": "a", "script": "step.py"}, {"name": "inner", "nodes": []}],
        r"workflow 'inner' has no nodes",
    ),
}


@pytest.mark.parametrize("nodes,message", list(BAD.values()), ids=list(BAD))
def test_bad_application_is_one_clear_error(tmp_path: Path, nodes: list[dict[str, Any]], message: str) -> None:
    app = _app(tmp_path, nodes)
    with pytest.raises(WorkflowValidationError, match=message) as info:
        app.validate()
    assert isinstance(info.value, ScanflowError)
    assert info.value.problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        [
            {"name": "Bad_Name", "script": "missing.py"},
            {"name": "b", "script": "step.py", "depends_on": ["zzz"]},
            {"name": "b", "script": "step.py"},
        ],
    )
    with pytest.raises(WorkflowValidationError) as info:
        app.validate()
    text = str(info.value)
    assert text.startswith("4 problems in application 'demo':")
    for fragment in ("DNS-1123", "missing.py", "unknown node 'zzz'", "two nodes are named 'b'"):
        assert fragment in text


def test_shape_errors_name_the_node(tmp_path: Path) -> None:
    spec = {
        "scanflow": 1,
        "name": "demo",
        "workflows": [
            {
                "name": "main",
                "nodes": [
                    {"name": "ok", "script": "step.py"},
                    {"name": "train", "script": "step.py", "retries": "many", "colour": "red"},
                ],
            }
        ],
    }
    (tmp_path / "scanflow.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(WorkflowValidationError) as info:
        load(tmp_path)
    text = str(info.value)
    assert "workflows['main'].nodes['train'].retries" in text
    assert "unknown key 'colour'; remove it or check its spelling" in text


def test_nested_problems_have_full_addresses(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        [
            {
                "name": "outer",
                "nodes": [{"name": "inner", "nodes": [{"name": "x", "script": "step.py", "depends_on": ["y"]}]}],
            }
        ],
    )
    with pytest.raises(WorkflowValidationError, match=r"main/outer/inner/x: depends on unknown node 'y'"):
        app.validate()


def test_python_construction_errors_are_scanflow_errors() -> None:
    with pytest.raises(WorkflowValidationError, match=r"retries.*greater than or equal to 0"):
        Executor(name="a", script="a.py", retries=-1)


def test_valid_application_passes(tmp_path: Path) -> None:
    app = Application(
        name="ok",
        workflows=[
            Workflow(
                name="main",
                nodes=[Executor(name="a", function="mod:fn"), Executor(name="b", function="mod:fn", depends_on=["a"])],
            )
        ],
    )
    assert app.validate() is app
    assert app.problems() == []
