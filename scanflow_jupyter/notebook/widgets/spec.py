"""The workflow tree the widgets send in their ``spec`` trait (``labextension/src/widgets/PROTOCOL.md``).

One builder for every widget that draws a workflow: the graph sends each node's kind, name, address and sibling
dependencies; the composer adds an executor's source and parameters and a service's model URI through ``detail``.
The TypeScript side reads it in ``labextension/src/widgets/spec.ts``.

Example
-------
>>> import scanflow_jupyter as sf
>>> app = sf.load("examples/tabular")                           # doctest: +SKIP
>>> workflow_tree(app, app.workflow())["root"]["nodes"][0]      # doctest: +SKIP
{'kind': 'executor', 'name': 'gather', 'address': 'gather', 'depends_on': []}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, TypedDict

from ...workflow import Application, Executor, Service, Workflow

NodeKind = Literal["workflow", "executor", "service"]
Node = Executor | Service | Workflow


class SpecNode(TypedDict, total=False):
    """A node of ``spec["root"]``: ``nodes`` only for ``kind == "workflow"``."""

    kind: NodeKind
    name: str
    address: str
    depends_on: list[str]
    nodes: list[SpecNode]


class Spec(TypedDict):
    """The ``spec`` trait: the workflow tree."""

    app: str
    workflow: str
    root: SpecNode


def node_kind(node: Node) -> NodeKind:
    """``workflow`` for a nested workflow, ``service`` for a service, ``executor`` for a step."""
    return "workflow" if isinstance(node, Workflow) else "service" if isinstance(node, Service) else "executor"


def workflow_tree(
    app: Application, workflow: Workflow, detail: Callable[[Node], Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The ``spec`` of ``workflow``: its tree with every node's kind, name, address (``outer/inner/step``) and
    sibling dependencies, and the fields ``detail(node)`` gives for each node below the root."""

    def build(n: Node, prefix: str) -> dict[str, Any]:
        address = f"{prefix}{n.name}"
        out: dict[str, Any] = {
            "kind": node_kind(n),
            "name": n.name,
            "address": address,
            "depends_on": list(n.depends_on),
        }
        if isinstance(n, Workflow):
            out["nodes"] = [build(child, f"{address}/") for child in n.nodes]
        if detail is not None:
            out.update(detail(n))
        return out

    root = {
        "kind": "workflow",
        "name": workflow.name,
        "address": "",
        "depends_on": [],
        "nodes": [build(child, "") for child in workflow.nodes],
    }
    return {"app": app.name, "workflow": workflow.name, "root": root}
