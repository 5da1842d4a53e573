"""The visual composer of a workflow: the Python model of ``labextension/src/widgets/composer.ts``.

The canvas edits the very :class:`~scanflow_jupyter.workflow.Application` the notebook holds: each edit from the
view (add, connect, disconnect, delete, group, set or remove a parameter) goes through
:mod:`scanflow_jupyter.workflow.edit`, so an edit that would make the application invalid (a cycle, a duplicate
name) is refused, the application is left as it was, and the validation message shows on the canvas. The other way
round, a change made in Python redraws the canvas: call :meth:`Composer.refresh`, or just run a cell (while a
composer is open, an IPython ``post_run_cell`` hook redraws it when the application changed).

The wire protocol (traits, custom messages) is ``labextension/src/widgets/PROTOCOL.md``.

Example
-------
>>> import scanflow_jupyter as sf
>>> from scanflow_jupyter.notebook import Composer
>>> c = Composer(sf.load("examples/tabular"))         # doctest: +SKIP
>>> c                                                   # doctest: +SKIP
>>> c.app.workflow().find("gather").parameters          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast

from traitlets import Dict, Int, Unicode

from ...errors import Problem, ScanflowError, WorkflowValidationError
from ...workflow import Application, Executor, Workflow, edit
from ...workflow.edit import stub_script
from ...workflow.params import PARAM_TYPES
from ...workflow.pycode import to_python
from ...workflow.spec import write_atomic
from ...workflow.tree import composer_tree, node_kind
from .base import WorkflowWidget

log = logging.getLogger(__name__)
# Open composers: an edit on one canvas redraws the others showing the same application at once.
_OPEN: weakref.WeakSet[Composer] = weakref.WeakSet()

# Room a nested workflow keeps around its nodes and above them (its title), in canvas pixels; the view
# uses the same figures (labextension/src/composer/layout.ts) when it draws a group.
GROUP_PAD = 20
GROUP_HEADER = 32


class ParamSpec(TypedDict):
    """One parameter of an executor in ``spec``."""

    type: str
    default: str | int | float | bool | None


class ComposerNode(TypedDict):
    """A node of ``spec["root"]``: GraphView's fields, plus an executor's source and parameters, a service's
    model URI, a nested workflow's nodes."""

    kind: Literal["workflow", "executor", "service"]
    name: str
    address: str
    depends_on: list[str]
    nodes: NotRequired[list[ComposerNode]]
    script: NotRequired[str | None]
    function: NotRequired[str | None]
    parameters: NotRequired[dict[str, ParamSpec]]
    model_uri: NotRequired[str]


class ComposerSpec(TypedDict):
    """The ``spec`` trait."""

    app: str
    workflow: str
    root: ComposerNode


class Position(TypedDict):
    """Where a node sits, relative to the nested workflow that holds it (canvas pixels)."""

    x: float
    y: float


class AddMessage(TypedDict):
    event: Literal["add"]
    group: str
    name: str
    script: NotRequired[str]


class LinkMessage(TypedDict):
    event: Literal["connect", "disconnect"]
    source: str
    target: str


class DeleteMessage(TypedDict):
    event: Literal["delete"]
    address: str


class GroupMessage(TypedDict):
    event: Literal["group"]
    addresses: list[str]
    name: str


class SetParamMessage(TypedDict):
    event: Literal["set_param"]
    address: str
    name: str
    value: str | int | float | bool
    type: NotRequired[str]


class RemoveParamMessage(TypedDict):
    event: Literal["remove_param"]
    address: str
    name: str


class CommandMessage(TypedDict):
    event: Literal["save", "export"]


ViewMessage = (
    AddMessage | LinkMessage | DeleteMessage | GroupMessage | SetParamMessage | RemoveParamMessage | CommandMessage
)


def composer_spec(app: Application, workflow: Workflow) -> ComposerSpec:
    """The ``spec`` of ``workflow``: its tree with each node's kind, address and sibling dependencies, and each
    executor's ``script``, ``function`` and ``parameters`` (``{name: {type, default}}``)."""
    return cast(ComposerSpec, composer_tree(app, workflow))


def _field(content: Mapping[str, Any], key: str) -> str:
    value = content.get(key)
    if not isinstance(value, str):
        raise _Malformed(f"the {content.get('event')!r} message has no {key!r} text")
    return value


def _point(value: object) -> Position | None:
    """A position the view wrote, or None when it is not ``{x: number, y: number}``."""
    if not isinstance(value, Mapping):
        return None
    x, y = value.get("x"), value.get("y")
    if (
        isinstance(x, int | float)
        and isinstance(y, int | float)
        and not isinstance(x, bool)
        and not isinstance(y, bool)
    ):
        return {"x": float(x), "y": float(y)}
    return None


class _Malformed(Exception):
    """A message from the view that is not of the protocol's shape (a bug, not a user's mistake)."""


class Composer(WorkflowWidget):
    """A canvas to compose a workflow: add steps, connect them, group them into nested workflows, edit their
    parameters, delete them; save ``scanflow.yaml``; export Python code that rebuilds the application.

    Parameters
    ----------
    app: the application; the composer edits this very object (``composer.app is app``).
    workflow: which of its workflows (default: the only one).
    watch: redraw after each notebook cell when the application changed in Python (an IPython
        ``post_run_cell`` hook, removed by :meth:`close`); only where an IPython shell runs.

    Every edit goes through :mod:`scanflow_jupyter.workflow.edit`: a refused edit leaves the application unchanged
    and puts the validation message in ``error`` (shown on the canvas); a successful one clears it.

    Example
    -------
    >>> c = Composer(app)                                  # doctest: +SKIP
    >>> c.add("train", after=["prep"])                     # doctest: +SKIP
    >>> c.app.workflow().find("train").depends_on          # doctest: +SKIP
    ['prep']
    """

    _model_name = Unicode("ComposerModel").tag(sync=True)
    _view_name = Unicode("ComposerView").tag(sync=True)

    spec = Dict(help="The workflow tree with each executor's script, function and parameters (PROTOCOL.md).").tag(
        sync=True
    )
    positions = Dict(help="Node address -> {x, y} relative to its nested workflow; written by the view.").tag(sync=True)
    error = Unicode("", help="The message of the last refused edit; '' after a successful one.").tag(sync=True)
    python_code = Unicode("", help="Code that rebuilds the application (filled by the 'export' message).").tag(
        sync=True
    )
    saved_path = Unicode("", help="Where the last save wrote scanflow.yaml.").tag(sync=True)
    message = Unicode("", help="A line to show: what the last save or export did.").tag(sync=True)
    revision = Int(0, help="Counts the view's messages handled (and redraws from Python).").tag(sync=True)
    height = Unicode("480px", help="CSS height of the canvas.").tag(sync=True)

    def __init__(self, app: Application, workflow: str | None = None, *, watch: bool = True, **kwargs: Any) -> None:
        wf = app.workflow(workflow)  # an unknown workflow raises here, naming the choices
        self._app = app
        self._workflow = wf.name
        self._seen: dict[str, Any] = app.model_dump()
        self._stubs: set[str] = set()  # scripts of steps added here: created on save when missing
        self._hook: Callable[..., None] | None = None
        super().__init__(spec=dict(composer_spec(app, wf)), **kwargs)
        _OPEN.add(self)
        self.on_msg(self._on_msg)
        if watch:
            self._watch()
        if self.comm is not None and hasattr(self.comm, "on_close"):
            self.comm.on_close(lambda _msg: self._unwatch())

    # -- the application --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw from the application, after it was changed in Python. Positions of nodes that are gone are
        dropped; the rest keep their place."""
        try:
            wf = self._app.workflow(self._workflow)
        except WorkflowValidationError as exc:
            self.error = str(exc)
            return
        self._seen = self._app.model_dump()
        spec = composer_spec(self._app, wf)
        addresses = {address for address, _ in wf.walk()}
        with self.hold_sync():
            self.spec = dict(spec)
            self.positions = {a: p for a, p in self.positions.items() if a in addresses}
            if self.python_code:  # the code shown follows the canvas, never describes an older application
                self.python_code = to_python(self._app)
            self.revision += 1

    # -- edits (what the canvas sends; callable from Python too) ---------------------------------
    def add(
        self,
        name: str,
        group: str = "",
        *,
        script: str | None = None,
        after: list[str] | None = None,
        kind: Literal["script", "function", "workflow"] = "script",
    ) -> None:
        """Add a node ``name`` to nested workflow ``group`` (``""``: the top level): an executor running
        ``script`` (default ``steps/NAME.py``, a stub of which :meth:`save` writes if the file is missing), with
        ``kind="function"`` an executor calling ``tasks:NAME``, with ``kind="workflow"`` a nested workflow holding
        one stub step (a workflow may not be empty)."""
        if kind == "workflow":
            self._edit(edit.add_node, group, edit.new_group(name), after=after or [])
            self._stubs.add(edit.new_group_script(name))
            return
        if kind == "function":
            function = f"tasks:{name.replace('-', '_')}"
            self._edit(edit.add_node, group, Executor(name=name, function=function), after=after or [])
            return
        path = script or f"steps/{name}.py"
        self._edit(edit.add_node, group, Executor(name=name, script=path), after=after or [])
        if not script:
            self._stubs.add(path)

    def connect(self, source: str, target: str) -> None:
        """Make ``target`` depend on ``source`` (two nodes of the same nested workflow)."""
        self._edit(edit.connect, source, target)

    def disconnect(self, source: str, target: str) -> None:
        """Remove the dependency of ``target`` on ``source``."""
        self._edit(edit.disconnect, source, target)

    def delete(self, address: str) -> None:
        """Delete a step or a nested workflow (with everything in it) and the dependencies on it."""
        self._edit(edit.delete, address)  # the positions of what is gone are dropped by refresh

    def group(self, addresses: list[str], name: str) -> None:
        """Move sibling nodes into a new nested workflow ``name``, in their place; they keep their layout."""
        positions = self._grouped_positions(list(addresses), name)
        self._edit(edit.group, list(addresses), name, positions=positions)

    def set_param(self, address: str, name: str, value: Any, kind: str | None = None) -> None:
        """Set (or add) parameter ``name`` of an executor; ``value`` is converted to its type (``kind``, else
        the declared one, else inferred from the value)."""
        if kind is not None and kind not in PARAM_TYPES:
            raise WorkflowValidationError(
                [Problem(f"{address}.{name}", f"unknown parameter type {kind!r}; use one of {', '.join(PARAM_TYPES)}")],
                subject="this edit",
            )
        self._edit(edit.set_parameter, address, name, value, kind)

    def remove_param(self, address: str, name: str) -> None:
        """Remove parameter ``name`` of an executor."""
        self._edit(edit.remove_parameter, address, name)

    def set_field(self, address: str, field: str, value: Any) -> None:
        """Set a property of a node that the inspector edits (``retries``, ``timeout``, ``requirements``,
        ``resources.cpu``, ...; see :data:`scanflow_jupyter.workflow.edit.FIELDS`); ``None`` or ``""`` clears it."""
        self._edit(edit.set_field, address, field, value)

    def save(self) -> Path:
        """Write ``scanflow.yaml`` in the application folder, and a stub script for each step added here whose
        script does not exist yet; returns the path written."""
        folder = self._app.folder
        if folder is None:
            raise WorkflowValidationError(
                [Problem("", "the application has no folder yet; save it once from Python: app.save(FOLDER)")],
                subject=f"application {self._app.name!r}",
            )
        written = []
        for _address, node in self._app.workflow(self._workflow).walk():
            if isinstance(node, Executor) and node.script in self._stubs and not (folder / node.script).exists():
                write_atomic(folder / node.script, stub_script(node.name, node.parameters))
                written.append(node.script)
        path = self._app.save()
        self.saved_path = str(path)
        problems = self._app.problems()
        note = f"saved {path}" + (f" and the stub(s) {', '.join(written)}" if written else "")
        if problems:
            note += f"; {len(problems)} problem(s) left: %scanflow validate lists them"
        self.message = note
        return path

    def export(self) -> str:
        """Python code that rebuilds the application; also shown on the canvas (``python_code``)."""
        code = to_python(self._app)
        self.python_code = code
        self.message = "Python code that rebuilds the application is below the canvas"
        return code

    def _edit(
        self, fn: Callable[..., Application], *args: Any, positions: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        fn(self._app, self._workflow, *args, **kwargs)  # refused: raises, the application is unchanged
        with self.hold_sync():
            self.error = ""
            if positions is not None:
                self.positions = positions
            self.refresh()
        for other in list(_OPEN):
            if other is not self and other._app is self._app:
                other._after_cell()

    def _grouped_positions(self, addresses: list[str], name: str) -> dict[str, Any]:
        """Positions after ``addresses`` moved into group ``name``: the group takes their top-left corner, each
        keeps its place inside it; nodes inside the moved ones keep theirs (relative to their own group)."""
        positions = dict(self.positions)
        parent = addresses[0].rpartition("/")[0] if addresses else ""
        group = f"{parent}/{name}" if parent else name
        placed = {a: p for a in addresses if (p := _point(positions.get(a))) is not None}
        left = min((p["x"] for p in placed.values()), default=0.0)
        top = min((p["y"] for p in placed.values()), default=0.0)
        if placed:
            positions[group] = {"x": left, "y": top}
        for address in addresses:
            new = f"{group}/{address.rpartition('/')[2]}"
            for old in [a for a in positions if a == address or a.startswith(address + "/")]:
                value = positions.pop(old)
                if old == address and address in placed:
                    value = {
                        "x": placed[address]["x"] - left + GROUP_PAD,
                        "y": placed[address]["y"] - top + GROUP_HEADER,
                    }
                positions[new + old[len(address) :]] = value
        return positions

    # -- messages from the view -------------------------------------------------------------------
    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        event = content.get("event") if isinstance(content, dict) else None
        handler = self._handlers().get(event) if isinstance(event, str) else None
        if handler is None:
            log.warning("Composer: unknown message from the view: %r", content)
            return
        answered = self.revision
        with self.hold_sync():  # one update for everything the message changes
            try:
                handler(content)
            except ScanflowError as exc:
                self._refuse(str(exc))
            except _Malformed as exc:
                log.warning("Composer: %s: %r", exc, content)
                self._refuse(f"The canvas sent a message this version does not understand ({exc}).")
            except OSError as exc:  # saving: a folder that cannot be written
                self._refuse(f"Could not save: {exc}")
            finally:
                if self.revision == answered:  # a refused edit, a save or an export: no redraw said so
                    self.revision += 1

    def _refuse(self, text: str) -> None:
        self.error = text
        # The view may have moved ahead of Python (a drawn edge, a typed value): send the spec again so it snaps
        # back even when the spec did not change.
        self.send_state("spec")

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], object]]:
        def add(c: dict[str, Any]) -> None:
            script = c.get("script")
            kind = c.get("kind", "script")
            if kind not in ("script", "function", "workflow"):
                raise _Malformed(f"unknown kind {kind!r} in the 'add' message")
            self.add(
                _field(c, "name"),
                str(c.get("group") or ""),
                script=script if isinstance(script, str) else None,
                kind=kind,
            )

        def group(c: dict[str, Any]) -> None:
            addresses = c.get("addresses")
            if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
                raise _Malformed("the 'group' message has no list of 'addresses'")
            self.group(addresses, _field(c, "name"))

        def set_param(c: dict[str, Any]) -> None:
            kind = c.get("type")
            if "value" not in c:
                raise _Malformed("the 'set_param' message has no 'value'")
            self.set_param(
                _field(c, "address"), _field(c, "name"), c["value"], kind if isinstance(kind, str) and kind else None
            )

        return {
            "add": add,
            "connect": lambda c: self.connect(_field(c, "source"), _field(c, "target")),
            "disconnect": lambda c: self.disconnect(_field(c, "source"), _field(c, "target")),
            "delete": lambda c: self.delete(_field(c, "address")),
            "group": group,
            "set_param": set_param,
            "remove_param": lambda c: self.remove_param(_field(c, "address"), _field(c, "name")),
            "set_field": lambda c: self.set_field(_field(c, "address"), _field(c, "field"), c.get("value")),
            "save": lambda c: self._clear_error_after(self.save),
            "export": lambda c: self._clear_error_after(self.export),
        }

    def _clear_error_after(self, action: Callable[[], object]) -> None:
        action()
        self.error = ""

    # -- following Python-side changes ------------------------------------------------------------
    def _watch(self) -> None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython is a dependency of the notebook layer
            return
        shell = get_ipython()
        if shell is None:
            return
        self._hook = self._after_cell
        shell.events.register("post_run_cell", self._hook)

    def _unwatch(self) -> None:
        hook = getattr(self, "_hook", None)
        self._hook = None
        if hook is None:
            return
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            with contextlib.suppress(ValueError):  # already gone (the shell was reset)
                shell.events.unregister("post_run_cell", hook)

    def _after_cell(self, _result: object = None) -> None:
        """After each cell: redraw if the application changed (in Python, or through a magic)."""
        try:
            if self._app.model_dump() != self._seen:
                self.refresh()
        except Exception:  # a hook that raises would show under every later cell
            log.exception("Composer: could not redraw after the cell")

    # -- closing and display ----------------------------------------------------------------------
    def close(self) -> None:
        """Stop following cells and close the widget (its views disappear)."""
        self._unwatch()
        _OPEN.discard(self)
        super().close()

    def _text(self) -> str:
        wf = self._app.workflow(self._workflow)
        lines = [f"Composer: {self._app.name} / {self._workflow}"]
        for address, node in wf.walk():
            depth = address.count("/")
            kind = {"executor": "step"}.get(node_kind(node), node_kind(node))
            after = f"  (after {', '.join(node.depends_on)})" if node.depends_on else ""
            lines.append(f"  {'  ' * depth}{node.name} [{kind}]{after}")
        if self.error:
            lines.append(self.error)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Composer(app={self._app.name!r}, workflow={self._workflow!r})"
