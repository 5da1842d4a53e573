"""The workflow tree the widgets send in their ``spec`` trait (``labextension/src/widgets/PROTOCOL.md``); built by
:mod:`scanflow_jupyter.workflow.tree`, which the server extension shares.

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

from typing import TypedDict

from ...workflow.tree import Node, NodeKind, node_kind, workflow_tree

__all__ = ["Node", "NodeKind", "Spec", "SpecNode", "node_kind", "workflow_tree"]


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
