"""The leaf-level graph of a workflow: nested workflows flattened into dependencies between steps.

A node that depends on a nested workflow depends on every step inside it; every step inside a nested
workflow depends on what that workflow depends on. The scheduler runs this graph; :mod:`.dot` draws the
nested structure instead.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field

from .model import Executor, Service, Workflow


@dataclass
class FlatGraph:
    """Steps by address, the steps each depends on, and the steps inside each nested workflow."""

    workflow: Workflow
    nodes: dict[str, Executor | Service] = field(default_factory=dict)
    deps: dict[str, set[str]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)

    def order(self) -> list[str]:
        """A topological order of the steps (ties broken by definition order)."""
        sorter = graphlib.TopologicalSorter({a: self.deps[a] for a in self.nodes})
        return list(sorter.static_order())

    def downstream(self, address: str) -> set[str]:
        """Every step that depends, directly or not, on ``address``."""
        children: dict[str, set[str]] = {a: set() for a in self.nodes}
        for node, deps in self.deps.items():
            for dep in deps:
                children[dep].add(node)
        seen: set[str] = set()
        stack = [address]
        while stack:
            for child in children[stack.pop()]:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return seen

    def upstream(self, address: str) -> set[str]:
        """Every step that ``address`` depends on, directly or not."""
        seen: set[str] = set()
        stack = list(self.deps.get(address, ()))
        while stack:
            dep = stack.pop()
            if dep not in seen:
                seen.add(dep)
                stack.extend(self.deps.get(dep, ()))
        return seen

    def groups_of(self, address: str) -> list[str]:
        """The nested workflows that hold ``address``, outermost first."""
        parts = address.split("/")
        return ["/".join(parts[:i]) for i in range(1, len(parts))]


def flatten(workflow: Workflow) -> FlatGraph:
    """Flatten ``workflow`` (assumed valid) into a :class:`FlatGraph`."""
    graph = FlatGraph(workflow)
    _expand(workflow, "", set(), graph)
    return graph


def _leaves_under(node: Executor | Service | Workflow, address: str) -> set[str]:
    if isinstance(node, Workflow):
        return {f"{address}/{a}" for a, n in node.walk() if not isinstance(n, Workflow)}
    return {address}


def _expand(wf: Workflow, prefix: str, inherited: set[str], graph: FlatGraph) -> None:
    by_name = {n.name: n for n in wf.nodes}
    for node in wf.nodes:
        address = f"{prefix}{node.name}"
        deps = set(inherited)
        for dep in node.depends_on:
            if dep in by_name:
                deps |= _leaves_under(by_name[dep], f"{prefix}{dep}")
        if isinstance(node, Workflow):
            graph.groups[address] = sorted(_leaves_under(node, address))
            _expand(node, address + "/", deps, graph)
        else:
            graph.nodes[address] = node
            graph.deps[address] = deps
