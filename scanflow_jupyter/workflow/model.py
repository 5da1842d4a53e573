"""The pure workflow model: Executor, Service, Workflow (a node itself), Application.

Objects are pydantic models, so a spec file and Python code build the same thing, and the JSON Schema of
``scanflow.yaml`` comes from these classes. Construction checks only the shape of each field; the
cross-node checks (cycles, unknown dependencies, names, files) live in :mod:`.validate` and run on
``Application.validate()``, so a half-built application can still be edited.

Example
-------
>>> from scanflow_jupyter.workflow import Application, Executor, Workflow
>>> app = Application(name="demo", workflows=[Workflow(name="main", nodes=[
...     Executor(name="prep", script="prep.py", parameters={"rows": 100}),
...     Executor(name="train", script="train.py", depends_on=["prep"]),
... ])])
>>> [address for address, _ in app.workflow("main").walk()]
['prep', 'train']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
)

from ..errors import Problem, WorkflowValidationError
from .params import ParamType, ParamValue, infer_type

SCHEMA_VERSION = 1
_depth: ContextVar[int] = ContextVar("scanflow_spec_depth", default=0)


class _Spec(BaseModel):
    """Base of every spec object: unknown keys are refused, and shape errors become a
    ``WorkflowValidationError`` that lists every one of them."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    def __init__(self, /, **data: Any) -> None:
        # pydantic calls this for nested objects too: only the outermost call turns errors into ours, so
        # every problem keeps its full location.
        if _depth.get():
            super().__init__(**data)
            return
        token = _depth.set(1)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise WorkflowValidationError(
                problems_from_pydantic(exc, data), subject=f"{type(self).__name__} {data.get('name', '')!r}"
            ) from None
        finally:
            _depth.reset(token)


class Parameter(_Spec):
    """A typed parameter, passed to its step as ``--name value``. In YAML, ``rows: 10`` is shorthand
    for ``rows: {type: int, default: 10}``."""

    type: ParamType = "str"
    default: ParamValue | None = None
    help: str = ""


class Resources(_Spec):
    """What a node asks for on Docker or Kubernetes: cpu (cores or a quantity like ``500m``), memory
    (a quantity like ``512Mi``) and GPUs."""

    cpu: float | str | None = None
    memory: str | None = None
    gpu: int = Field(default=0, ge=0)


def _parameters_before(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for name, spec in value.items():
        if isinstance(spec, Parameter | Mapping):
            out[name] = spec
        else:
            out[name] = {"type": infer_type(spec), "default": spec}
    return out


class Executor(_Spec):
    """A unit of work: a script file (relative to the application folder) or a ``module:function``.

    Parameters are typed and reach the step as argv (``--name value``), never through a shell.
    """

    name: str
    script: str | None = None
    function: str | None = None
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    requirements: str | list[str] | None = None
    isolated: bool = False
    base_image: str | None = None
    dockerfile: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    resources: Resources | None = None
    retries: int = Field(default=0, ge=0)
    retry_backoff: float = Field(default=1.0, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    inputs: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    cache: bool = True

    _check_parameters = field_validator("parameters", mode="before")(_parameters_before)

    def defaults(self) -> dict[str, ParamValue]:
        """The parameter values used when a run overrides none."""
        return {name: p.default for name, p in self.parameters.items() if p.default is not None}


class Service(_Spec):
    """An online node: an MLflow model (``model_uri``) served behind an HTTP endpoint."""

    name: str
    model_uri: str
    depends_on: list[str] = Field(default_factory=list)
    port: int = Field(default=8080, ge=1, le=65535)
    replicas: int = Field(default=1, ge=1)
    env: dict[str, str] = Field(default_factory=dict)
    resources: Resources | None = None


def _node_kind(value: Any) -> str:
    if isinstance(value, Mapping):
        if "nodes" in value:
            return "workflow"
        return "service" if "model_uri" in value else "executor"
    if isinstance(value, Workflow):
        return "workflow"
    return "service" if isinstance(value, Service) else "executor"


Node = Annotated[
    Annotated[Executor, Tag("executor")] | Annotated[Service, Tag("service")] | Annotated["Workflow", Tag("workflow")],
    Discriminator(_node_kind),
]


class Workflow(_Spec):
    """Named nodes and their dependencies. A workflow is itself a node: nested in another workflow it is
    drawn as a cluster, run as a unit and addressed as ``outer/inner/step``."""

    name: str
    kind: Literal["batch", "online"] = "batch"
    depends_on: list[str] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Executor | Service | Workflow]]:
        """Yield ``(address, node)`` for every node, depth first, nested workflows before their nodes."""
        for node in self.nodes:
            address = f"{prefix}{node.name}"
            yield address, node
            if isinstance(node, Workflow):
                yield from node.walk(address + "/")

    def leaves(self) -> dict[str, Executor | Service]:
        """Every executor and service, by address."""
        return {a: n for a, n in self.walk() if not isinstance(n, Workflow)}

    def find(self, address: str) -> Executor | Service | Workflow:
        """The node at ``address`` (``inner/step``); ``KeyError`` names the nearest existing parent."""
        current: Workflow = self
        parts = address.split("/")
        for i, part in enumerate(parts):
            match = next((n for n in current.nodes if n.name == part), None)
            if match is None:
                where = "/".join(parts[:i]) or self.name
                raise KeyError(f"no node {part!r} in {where!r}")
            if i == len(parts) - 1:
                return match
            if not isinstance(match, Workflow):
                raise KeyError(f"{'/'.join(parts[: i + 1])!r} is a step, not a workflow")
            current = match
        raise KeyError(address)

    def add(self, node: Executor | Service | Workflow, after: Sequence[str] = ()) -> Executor | Service | Workflow:
        """Append ``node``, depending on the sibling names in ``after``; returns the node."""
        for name in after:
            if name not in node.depends_on:
                node.depends_on.append(name)
        self.nodes.append(node)
        return node

    def remove(self, name: str) -> Executor | Service | Workflow:
        """Remove the direct child ``name`` and every sibling's dependency on it."""
        node = self.find(name)
        self.nodes = [n for n in self.nodes if n.name != name]
        for other in self.nodes:
            other.depends_on = [d for d in other.depends_on if d != name]
        return node


class Tracker(_Spec):
    """Where runs are tracked. ``uri`` unset means ``MLFLOW_TRACKING_URI``, else SQLite in the app folder."""

    uri: str | None = None
    experiment: str | None = None


class AgentSpec(_Spec):
    """An agent of the application: a built-in ``kind`` (tracker, checker, improver, planner) with its
    ``settings``, or ``kind: custom`` with a ``factory`` (``module:function`` returning an agent). It runs in a
    notebook (``%scanflow agents start``) or as a long-running service (``python -m scanflow_jupyter.agents``).
    What the settings mean is the agents layer's business; the model only keeps them."""

    name: str
    kind: Literal["tracker", "checker", "improver", "planner", "custom"]
    factory: str | None = None
    interval: float = Field(default=10.0, gt=0)
    settings: dict[str, Any] = Field(default_factory=dict)


class Application(_Spec):
    """An application: a name, a folder, workflows, agents and tracker settings; saved as ``scanflow.yaml``."""

    scanflow: int = SCHEMA_VERSION
    name: str
    requirements: str | list[str] | None = None
    base_image: str | None = None
    tracker: Tracker | None = None
    workflows: list[Workflow] = Field(default_factory=list)
    agents: list[AgentSpec] = Field(default_factory=list)

    _folder: Path | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # Two applications are equal when their specs are; where they live on disk does not matter.
        if not isinstance(other, Application):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    @property
    def folder(self) -> Path | None:
        """The application folder (script paths are relative to it); None for an unsaved application."""
        return self._folder

    @folder.setter
    def folder(self, value: str | Path | None) -> None:
        self._folder = Path(value).resolve() if value is not None else None

    def workflow(self, name: str | None = None) -> Workflow:
        """The workflow ``name``; with no name, the only workflow (an error lists the choices)."""
        if name is None:
            if len(self.workflows) == 1:
                return self.workflows[0]
            choices = ", ".join(w.name for w in self.workflows) or "none defined"
            raise WorkflowValidationError(
                [Problem("", f"name a workflow to use; this application has: {choices}")], f"application {self.name!r}"
            )
        for wf in self.workflows:
            if wf.name == name:
                return wf
        choices = ", ".join(w.name for w in self.workflows) or "none defined"
        raise WorkflowValidationError(
            [Problem(name, f"no workflow named {name!r}; choose one of: {choices}")], f"application {self.name!r}"
        )

    def validate(self, check_files: bool = True) -> Application:  # type: ignore[override]
        """Run every check and raise one ``WorkflowValidationError`` listing all problems; returns self."""
        from .validate import validate

        validate(self, check_files=check_files)
        return self

    def problems(self, check_files: bool = True) -> list[Problem]:
        """Every problem found, without raising."""
        from .validate import find_problems

        return find_problems(self, check_files=check_files)

    def to_yaml(self) -> str:
        """The canonical ``scanflow.yaml`` text (defaults left out)."""
        from .spec import dump_yaml

        return dump_yaml(self)

    def save(self, path: str | Path | None = None) -> Path:
        """Write ``scanflow.yaml`` (to ``path``, a file or a folder, or the application folder)."""
        from .spec import save

        return save(self, path)

    def plot(self, workflow: str | None = None, states: Mapping[str, str] | None = None) -> Any:
        """A ``graphviz.Digraph`` of a workflow: one cluster per nested workflow, nodes coloured by state."""
        from .dot import to_digraph

        return to_digraph(self.workflow(workflow), states=states or {}, title=self.name)


Workflow.model_rebuild()
Application.model_rebuild()


def problems_from_pydantic(exc: ValidationError, data: Any = None) -> list[Problem]:
    """Turn pydantic's errors into problems whose location names nodes rather than list indices."""
    problems = []
    for err in exc.errors():
        where = _readable_location(err["loc"], data)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = f"unknown key {err['loc'][-1]!r}; remove it or check its spelling"
        elif err["type"] == "missing":
            message = f"missing required key {err['loc'][-1]!r}"
        elif "input" in err and err["type"] not in ("missing",):
            message = f"{message} (got {err['input']!r})"
        problems.append(Problem(where, message))
    return problems


_TAGS = {"executor", "service", "workflow"}


def _readable_location(loc: tuple[int | str, ...], data: Any) -> str:
    parts: list[str] = []
    current = data
    for key in loc:
        if isinstance(key, str) and key in _TAGS and not (isinstance(current, Mapping) and key in current):
            continue  # a union tag pydantic adds, not a key of the input
        if isinstance(key, int) and isinstance(current, Sequence) and not isinstance(current, str):
            item = current[key] if key < len(current) else None
            name = item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None)
            parts.append(f"[{name!r}]" if isinstance(name, str) else f"[{key}]")
            current = item
            continue
        parts.append(f".{key}" if parts else str(key))
        current = current.get(key) if isinstance(current, Mapping) else getattr(current, str(key), None)
    return "".join(parts)
