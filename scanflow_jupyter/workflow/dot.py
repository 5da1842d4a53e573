"""DOT output: one cluster per nested workflow, a colour per node state.

User text (names) goes through ``graphviz.escape`` so a name like ``<b>x</b>`` stays text and is never
read as an HTML-like label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import graphviz

from .colours import BORDER_COLOURS, DEFAULT_BORDER, STATE_COLOURS
from .model import Executor, Service, Workflow

_ROLLUP = ("failed", "running", "queued", "cancelled", "skipped", "pending")


def _safe(address: str) -> str:
    # graphviz reads "a:b" in an edge as node a, port b; names with ':' are invalid but still drawn.
    return address.replace(":", "%3A")


def node_id(address: str) -> str:
    """The DOT node id (and SVG element id) of a step: ``sf/<address>``."""
    return f"sf/{_safe(address)}"


def cluster_id(address: str) -> str:
    """The DOT subgraph name (and SVG id) of a nested workflow; DOT wants it to start with ``cluster``."""
    return f"cluster/{_safe(address)}"


def group_state(states: list[str]) -> str:
    """The state shown for a nested workflow, from the states of the steps inside it."""
    if states and all(s in ("succeeded", "cached") for s in states):
        return "succeeded"
    for s in _ROLLUP:
        if s in states:
            return s
    return "pending"


def to_digraph(workflow: Workflow, states: Mapping[str, str] | None = None, title: str = "") -> graphviz.Digraph:
    """Draw ``workflow`` as a ``graphviz.Digraph``.

    ``states`` maps step addresses (``inner/step``) to state names; missing steps are pending.
    """
    states = states or {}
    dot = graphviz.Digraph(
        name=graphviz.escape(workflow.name),
        graph_attr={
            "compound": "true",
            "rankdir": "LR",
            "fontname": "Helvetica",
            "label": graphviz.escape(f"{title} / {workflow.name}" if title else workflow.name),
            "labelloc": "t",
        },
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica"},
        edge_attr={"color": "#555555"},
    )
    _draw(dot, workflow, "", states)
    return dot


def _anchor(node: Executor | Service | Workflow, address: str) -> str:
    """A step inside ``node`` to attach edges to (the node itself for a step)."""
    if isinstance(node, Workflow):
        for sub_address, sub in node.walk():
            if not isinstance(sub, Workflow):
                return f"{address}/{sub_address}"
        return f"{address}/__empty__"
    return address


def _draw(graph: Any, wf: Workflow, prefix: str, states: Mapping[str, str]) -> list[str]:
    leaf_states: list[str] = []
    by_name = {n.name: n for n in wf.nodes}
    for node in wf.nodes:
        address = f"{prefix}{node.name}"
        if isinstance(node, Workflow):
            with graph.subgraph(name=cluster_id(address)) as sub:
                inner = _draw(sub, node, address + "/", states)
                if not node.nodes:
                    sub.node(node_id(f"{address}/__empty__"), label="(empty)", style="dashed")
                state = group_state(inner)
                sub.attr(
                    label=graphviz.escape(node.name),
                    id=cluster_id(address),
                    style="rounded,filled",
                    fillcolor="#fafafa",
                    color=_border(state),
                    penwidth="2",
                    tooltip=graphviz.escape(f"{address} ({state})"),
                )
            leaf_states += inner
        else:
            state = states.get(address, "pending")
            leaf_states.append(state)
            graph.node(
                node_id(address),
                label=graphviz.escape(node.name),
                id=node_id(address),
                fillcolor=STATE_COLOURS.get(state, STATE_COLOURS["pending"]),
                tooltip=graphviz.escape(f"{address} ({state})"),
                shape="box" if isinstance(node, Executor) else "component",
                style="rounded,filled,dashed" if state == "skipped" else "rounded,filled",
            )
        for dep in node.depends_on:
            if dep not in by_name:
                continue  # reported by validation; draw what is valid
            upstream = by_name[dep]
            attrs: dict[str, str] = {}
            if isinstance(upstream, Workflow):
                attrs["ltail"] = cluster_id(f"{prefix}{dep}")
            if isinstance(node, Workflow):
                attrs["lhead"] = cluster_id(address)
            graph.edge(node_id(_anchor(upstream, f"{prefix}{dep}")), node_id(_anchor(node, address)), **attrs)
    return leaf_states


def _border(state: str) -> str:
    return BORDER_COLOURS.get(state, DEFAULT_BORDER)
