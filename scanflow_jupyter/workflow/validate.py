"""Checks over a whole application, kept apart from the model (as Metaflow keeps lint from graph).

Each check is a function registered with :func:`check`; :func:`find_problems` runs all of them and
collects every problem, so a user fixes everything in one pass.
"""

from __future__ import annotations

import difflib
import graphlib
import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import Problem, WorkflowValidationError
from .model import Application, Executor, Service, Workflow
from .params import PARAM_NAME, coerce
from .refs import REFERENCE_BODY, candidates, parameter_references, references_in

Check = Callable[[Application, bool], Iterator[Problem]]
_CHECKS: list[Check] = []

# RFC 1123 label, as Docker and Kubernetes want for names: lowercase alphanumerics and '-', 63 at most.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
FUNCTION_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def check(fn: Check) -> Check:
    """Register a check; it yields problems for an application."""
    _CHECKS.append(fn)
    return fn


def find_problems(app: Application, check_files: bool = True) -> list[Problem]:
    """Every problem found by every registered check."""
    problems: list[Problem] = []
    for fn in _CHECKS:
        problems.extend(fn(app, check_files))
    return problems


def validate(app: Application, check_files: bool = True) -> None:
    """Raise one ``WorkflowValidationError`` listing every problem, if there is any."""
    problems = find_problems(app, check_files)
    if problems:
        raise WorkflowValidationError(problems, subject=f"application {app.name!r}")


def suggest_label(name: str) -> str:
    """A DNS-1123 label close to ``name`` (for the fix a message proposes)."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return label or "step"


def _all_nodes(app: Application) -> Iterator[tuple[str, Executor | Service | Workflow]]:
    for wf in app.workflows:
        yield wf.name, wf
        yield from wf.walk(prefix=f"{wf.name}/")


@check
def _names_are_labels(app: Application, _: bool) -> Iterator[Problem]:
    if not DNS_LABEL.match(app.name) or len(app.name) > 63:
        yield Problem(
            "name",
            f"application name {app.name!r} is not a valid DNS-1123 label (lowercase letters, digits and '-', "
            f"starting and ending with a letter or digit, at most 63 characters); Docker and Kubernetes need one. "
            f"Rename it, for instance to {suggest_label(app.name)!r}.",
        )
    for address, node in _all_nodes(app):
        if not DNS_LABEL.match(node.name) or len(node.name) > 63:
            kind = "workflow" if isinstance(node, Workflow) else "step"
            yield Problem(
                address,
                f"{kind} name {node.name!r} is not a valid DNS-1123 label (lowercase letters, digits and '-', "
                f"starting and ending with a letter or digit, at most 63 characters); Docker and Kubernetes need "
                f"one. Rename it, for instance to {suggest_label(node.name)!r}.",
            )


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


@check
def _unique_names(app: Application, _: bool) -> Iterator[Problem]:
    for name in _duplicates([wf.name for wf in app.workflows]):
        yield Problem(name, f"two workflows are named {name!r}; give each a unique name")
    for address, node in [("", None), *_all_nodes(app)]:
        if node is None:
            continue
        if isinstance(node, Workflow):
            for name in _duplicates([n.name for n in node.nodes]):
                yield Problem(address, f"two nodes are named {name!r} in workflow {node.name!r}; rename one of them")


@check
def _dependencies(app: Application, _: bool) -> Iterator[Problem]:
    for address, wf in [(w.name, w) for w in app.workflows] + [
        (a, n) for a, n in _all_nodes(app) if isinstance(n, Workflow) and "/" in a
    ]:
        assert isinstance(wf, Workflow)
        if not wf.nodes:
            yield Problem(address, f"workflow {wf.name!r} has no nodes; add a step or remove it")
        siblings = [n.name for n in wf.nodes]
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for node in wf.nodes:
            sorter.add(node.name)
            for dep in node.depends_on:
                if dep == node.name:
                    yield Problem(
                        f"{address}/{node.name}", f"{node.name!r} depends on itself; remove it from depends_on"
                    )
                elif dep not in siblings:
                    close = difflib.get_close_matches(dep, siblings, n=1)
                    hint = f"did you mean {close[0]!r}?" if close else f"known nodes here: {', '.join(siblings)}"
                    yield Problem(
                        f"{address}/{node.name}",
                        f"depends on unknown node {dep!r} (dependencies name siblings in workflow {wf.name!r}); {hint}",
                    )
                else:
                    sorter.add(node.name, dep)
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle = list(reversed(exc.args[1]))  # each node now depends on the next
            if len(cycle) > 2:  # a self-loop was reported above
                links = ", ".join(f"{a} depends on {b}" for a, b in itertools.pairwise(cycle))
                yield Problem(
                    address,
                    f"dependency cycle {' -> '.join(cycle)} ({links}); remove one of these dependencies to break it",
                )


@check
def _sources(app: Application, check_files: bool) -> Iterator[Problem]:
    folder = app.folder
    for address, node in _all_nodes(app):
        if isinstance(node, Executor):
            if (node.script is None) == (node.function is None):
                yield Problem(
                    address,
                    "an executor needs exactly one source: set either 'script' (a file in the application "
                    "folder) or 'function' ('module:function')",
                )
            if node.function is not None and not FUNCTION_REF.match(node.function):
                yield Problem(
                    address,
                    f"function {node.function!r} is not of the form 'module:function' (e.g. 'steps.train:main')",
                )
            if node.script is not None and check_files and folder is not None:
                yield from _file_problem(folder, node.script, address, "script")
            if isinstance(node.requirements, str) and check_files and folder is not None:
                yield from _file_problem(folder, node.requirements, address, "requirements file")
            if node.dockerfile is not None and check_files and folder is not None:
                yield from _file_problem(folder, node.dockerfile, address, "dockerfile")
    if isinstance(app.requirements, str) and check_files and folder is not None:
        yield from _file_problem(folder, app.requirements, "requirements", "requirements file")


def _file_problem(folder: Path, relative: str, address: str, what: str) -> Iterator[Problem]:
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts:
        yield Problem(address, f"{what} {relative!r} must be a path inside the application folder {str(folder)!r}")
    elif not (folder / path).is_file():
        yield Problem(address, f"{what} {relative!r} not found in {str(folder)!r}; create it or fix the path")


@check
def _parameters(app: Application, _: bool) -> Iterator[Problem]:
    for address, node in _all_nodes(app):
        if not isinstance(node, Executor):
            continue
        for name, param in node.parameters.items():
            if not PARAM_NAME.match(name):
                yield Problem(
                    f"{address}.{name}",
                    f"parameter name {name!r} cannot be passed as '--{name}'; use letters, digits, '-', '_' or '.' "
                    "and start with a letter",
                )
            if param.default is not None and not references_in(param.default):  # a reference: typed at run time
                try:
                    coerce(param.default, param.type)
                except ValueError as exc:
                    yield Problem(
                        f"{address}.{name}", f"parameter {name!r} is declared {param.type} but its default {exc}"
                    )
                else:
                    if param.type in ("int", "float") and isinstance(param.default, str):
                        yield Problem(
                            f"{address}.{name}",
                            f"parameter {name!r} is declared {param.type} but its default is the string "
                            f"{param.default!r}; write it without quotes",
                        )


@check
def _services_are_online(app: Application, _: bool) -> Iterator[Problem]:
    for wf in app.workflows:
        if wf.kind != "batch":
            continue
        for address, node in wf.walk(prefix=f"{wf.name}/"):
            if isinstance(node, Service):
                yield Problem(
                    address,
                    f"service {node.name!r} is in batch workflow {wf.name!r}; put services in a workflow with "
                    "kind: online",
                )


@check
def _agents(app: Application, _: bool) -> Iterator[Problem]:
    for name in _duplicates([agent.name for agent in app.agents]):
        yield Problem(f"agents[{name!r}]", f"two agents are named {name!r}; give each a unique name")
    for agent in app.agents:
        where = f"agents[{agent.name!r}]"
        if not DNS_LABEL.match(agent.name) or len(agent.name) > 63:
            yield Problem(
                where,
                f"agent name {agent.name!r} is not a valid DNS-1123 label (lowercase letters, digits and '-'); its "
                f"container needs one. Rename it, for instance to {suggest_label(agent.name)!r}.",
            )
        if agent.kind == "custom" and agent.factory is None:
            yield Problem(where, "a custom agent needs 'factory': the 'module:function' that returns the Agent")
        if agent.factory is not None and agent.kind != "custom":
            yield Problem(where, f"'factory' is only for kind: custom; a {agent.kind} agent is built in (remove it)")
        if agent.factory is not None and not FUNCTION_REF.match(agent.factory):
            yield Problem(where, f"factory {agent.factory!r} is not of the form 'module:function'")


@check
def _resources(app: Application, _: bool) -> Iterator[Problem]:
    from .quantity import canonical_cpu, canonical_memory

    for address, node in _all_nodes(app):
        res = node.resources if isinstance(node, Executor | Service) else None
        if res is None:
            continue
        for what in ("cpu", "memory"):
            value = getattr(res, what)
            if value is None:
                continue
            try:
                canonical_cpu(value) if what == "cpu" else canonical_memory(value)
            except ValueError as exc:
                yield Problem(
                    f"{address}.resources.{what}",
                    f"{exc}; Docker and Kubernetes need a quantity, so fix it in scanflow.yaml",
                )


@check
def _value_references(app: Application, _: bool) -> Iterator[Problem]:
    from .graph import flatten

    for wf in app.workflows:
        graph = flatten(wf)
        for address, node in graph.nodes.items():
            if not isinstance(node, Executor):
                continue
            upstream = graph.upstream(address)
            for param, ref in parameter_references(node):
                where = f"{wf.name}/{address}.{param}"
                if not REFERENCE_BODY.match(ref):
                    yield Problem(
                        where,
                        f"${{{ref}}} is not a value reference; write ${{STEP.NAME}}, such as ${{gather.n_rows}} (STEP "
                        "a step upstream of this one, NAME what it gives with step.output)",
                    )
                    continue
                step = ref.rpartition(".")[0]
                found = next((c for c in candidates(ref, address) if c in graph.nodes), None)
                if found is None:
                    close = difflib.get_close_matches(step, list(graph.nodes), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else f"steps: {', '.join(graph.nodes)}"
                    yield Problem(
                        where, f"${{{ref}}} names step {step!r}, which is not in workflow {wf.name!r}; {hint}"
                    )
                elif found not in upstream:
                    yield Problem(
                        where,
                        f"${{{ref}}} names step {found!r}, which is not upstream of {address!r}, so its value does "
                        f"not exist yet when {address!r} runs; add {found.rpartition('/')[2]!r} to the "
                        f"depends_on of {address!r} (or of a workflow around it)",
                    )
