"""scanflow-jupyter: define ML workflows in notebooks, plot them, run them locally, in Docker or on
Kubernetes, and track every run in MLflow.

Importing the package is cheap: the public names below load their modules on first use, so
``import scanflow_jupyter`` pays for neither pydantic nor MLflow.

Example
-------
>>> import scanflow_jupyter as sf
>>> app = sf.load("examples/tabular")          # doctest: +SKIP
>>> result = sf.run(app, workers=2)            # doctest: +SKIP
"""

from __future__ import annotations

import importlib

from ._version import __version__

TYPE_CHECKING = False  # importing typing for it costs milliseconds on every `import scanflow_jupyter`

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from . import step
    from .engine import RunResult, resume, run
    from .errors import ScanflowError, WorkflowValidationError
    from .tracking.past import latest_run
    from .workflow import Application, Executor, Parameter, Resources, Service, Workflow, load

_LAZY = {
    "Application": "workflow",
    "Executor": "workflow",
    "Parameter": "workflow",
    "Resources": "workflow",
    "Service": "workflow",
    "Workflow": "workflow",
    "load": "workflow",
    "latest_run": "tracking.past",
    "run": "engine",
    "resume": "engine",
    "RunResult": "engine",
    "ScanflowError": "errors",
    "WorkflowValidationError": "errors",
}

__all__ = [
    "Application",
    "Executor",
    "Parameter",
    "Resources",
    "RunResult",
    "ScanflowError",
    "Service",
    "Workflow",
    "WorkflowValidationError",
    "__version__",
    "latest_run",
    "load",
    "resume",
    "run",
    "step",
]


def __getattr__(name: str) -> object:
    if name == "step":  # a module: ``from scanflow_jupyter import step`` in a step's code
        return importlib.import_module(".step", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scanflow_jupyter' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext scanflow_jupyter``: register the ``%scanflow`` magics. IPython and ipywidgets are imported
    only now, never by ``import scanflow_jupyter``."""
    from .notebook.magics import load_ipython_extension as load
    from .tracking.quiet import quiet_defaults

    quiet_defaults()  # before the kernel first imports MLflow or TensorFlow: stderr is for what went wrong
    load(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "scanflow-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    # Named by jupyter_server's protocol; the extension (server/) loads only when a server starts.
    return [{"module": "scanflow_jupyter.server"}]
