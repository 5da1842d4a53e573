"""Flattening nested workflows, and the DOT drawing."""

from __future__ import annotations

from pathlib import Path

from scanflow_jupyter.workflow import Application, Executor, Workflow, flatten, load
from scanflow_jupyter.workflow.dot import STATE_COLOURS, group_state

ROOT = Path(__file__).resolve().parents[2]


def _nested() -> Workflow:
    return Workflow(
        name="main",
        nodes=[
            Executor(name="a", function="m:f"),
            Workflow(
                name="outer",
                depends_on=["a"],
                nodes=[
                    Executor(name="b", function="m:f"),
                    Workflow(name="inner", depends_on=["b"], nodes=[Executor(name="c", function="m:f")]),
                ],
            ),
            Executor(name="d", function="m:f", depends_on=["outer"]),
        ],
    )


def test_flatten_inherits_and_expands_dependencies() -> None:
    graph = flatten(_nested())
    assert graph.deps == {
        "a": set(),
        "outer/b": {"a"},
        "outer/inner/c": {"a", "outer/b"},
        "d": {"outer/b", "outer/inner/c"},
    }
    assert graph.order().index("a") < graph.order().index("outer/b") < graph.order().index("d")
    assert graph.groups == {"outer": ["outer/b", "outer/inner/c"], "outer/inner": ["outer/inner/c"]}
    assert graph.downstream("outer/b") == {"outer/inner/c", "d"}
    assert graph.groups_of("outer/inner/c") == ["outer", "outer/inner"]


def test_dot_has_one_cluster_per_nested_workflow_and_state_colours() -> None:
    app = Application(name="demo", workflows=[_nested()])
    source = app.plot(states={"a": "succeeded", "outer/b": "running", "outer/inner/c": "failed"}).source
    assert source.count("subgraph ") == 2
    assert '"cluster/outer"' in source and '"cluster/outer/inner"' in source
    assert f'fillcolor="{STATE_COLOURS["succeeded"]}"' in source
    assert f'fillcolor="{STATE_COLOURS["running"]}"' in source
    assert f'fillcolor="{STATE_COLOURS["failed"]}"' in source
    assert f'fillcolor="{STATE_COLOURS["pending"]}"' in source  # d, no state given
    assert 'lhead="cluster/outer"' in source and 'ltail="cluster/outer"' in source


def test_user_text_is_never_an_html_label() -> None:
    evil = "<img src=x onerror=alert(1)>"
    app = Application(name="demo", workflows=[Workflow(name="main", nodes=[Executor(name=evil, function="m:f")])])
    source = app.plot().source
    assert f'label="{evil}"' in source  # quoted: DOT reads it as text
    assert f"label={evil}" not in source and "label=<" not in source


def test_example_graph_is_valid_dot() -> None:
    import shutil
    import subprocess

    source = load(ROOT / "examples" / "tabular").plot().source
    assert source.startswith("digraph pipeline {")
    if shutil.which("dot"):  # optional: the product never needs it, but when it is here, check the syntax
        subprocess.run(["dot", "-Tsvg"], input=source, text=True, check=True, capture_output=True)


def test_group_state_rolls_up() -> None:
    assert group_state(["succeeded", "cached"]) == "succeeded"
    assert group_state(["succeeded", "running"]) == "running"
    assert group_state(["failed", "running"]) == "failed"
    assert group_state([]) == "pending"
