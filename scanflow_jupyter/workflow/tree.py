"""The workflow tree the front end draws: every widget's ``spec`` trait (``labextension/src/widgets/PROTOCOL.md``)
and the document editor's spec (the server extension sends the same shape).

One builder for every view that draws a workflow: the graph sends each node's kind, name, address and sibling
dependencies; the composer adds what its inspector edits (an executor's source, parameters, requirements,
resources, retries and timeout; a service's model URI) through :func:`composer_detail`. The TypeScript side reads
it in ``labextension/src/widgets/spec.ts`` and ``labextension/src/composer/spec.ts``.

Example
-------
>>> import scanflow_jupyter as sf
>>> app = sf.load("examples/tabular")                           # doctest: +SKIP
>>> workflow_tree(app, app.workflow())["root"]["nodes"][0]      # doctest: +SKIP
{'kind': 'executor', 'name': 'gather', 'address': 'gather', 'depends_on': []}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from .model import Application, Executor, Service, Workflow

NodeKind = Literal["workflow", "executor", "service"]
Node = Executor | Service | Workflow


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


def _resources(node: Executor | Service) -> dict[str, Any]:
    res = node.resources
    if res is None:
        return {"cpu": None, "memory": None, "gpu": 0}
    return {"cpu": res.cpu, "memory": res.memory, "gpu": res.gpu}


def composer_detail(node: Node) -> dict[str, Any]:
    """What the composer shows and edits of a node beyond the graph's fields."""
    if isinstance(node, Service):
        return {"model_uri": node.model_uri, "resources": _resources(node)}
    if isinstance(node, Executor):
        parameters = {k: {"type": p.type, "default": p.default} for k, p in node.parameters.items()}
        return {
            "script": node.script,
            "function": node.function,
            "parameters": parameters,
            "requirements": node.requirements,
            "retries": node.retries,
            "timeout": node.timeout,
            "resources": _resources(node),
        }
    return {}


def composer_tree(app: Application, workflow: Workflow) -> dict[str, Any]:
    """The composer's ``spec`` of ``workflow``: :func:`workflow_tree` with :func:`composer_detail` on each node."""
    return workflow_tree(app, workflow, composer_detail)
