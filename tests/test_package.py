"""Package-wide rules: layers import downwards only, the import is cheap, the error tree is complete."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import scanflow_jupyter
from scanflow_jupyter import errors

# Each layer, and the layers above it that it must not import (DESIGN.md).
LAYERS = [
    "errors",
    "workflow",
    "tracking",
    "engine",
    "deploy",
    "checking",
    "active",
    "agents",
    "notebook",
    "cli",
    "server",
]
BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        for banned in {banned!r}:
            if name == banned or name.startswith(banned + "."):
                raise ImportError(f"layer violation: {{name}} imported while loading {layer}")
        return None
sys.meta_path.insert(0, Block())
import importlib
importlib.import_module("scanflow_jupyter.{layer}")
"""
# Sibling layers on the same level do not import each other either.
ABOVE = {
    "errors": LAYERS[1:],
    "workflow": LAYERS[2:],
    "tracking": LAYERS[3:],
    "engine": LAYERS[4:],
    # checking sits beside deploy and below active/agents: it may use workflow, tracking and engine only.
    "checking": ["deploy", "active", "agents", "notebook", "cli", "server"],
    # deploy sits beside checking: workflow, tracking, engine and errors only (the whole Docker backend loads).
    "deploy": ["checking", "active", "agents", "notebook", "cli", "server"],
    "deploy.docker.app": ["checking", "active", "agents", "notebook", "cli", "server"],
    # agents sit on every layer but notebook/ and cli; their service entry point is what a container runs.
    "agents": ["notebook", "cli", "server"],
    "agents.service": ["notebook", "cli", "server"],
    "notebook": ["cli", "server"],
    # server/ sits beside notebook/ and cli: it shares their services, never their modules.
    "server": ["notebook", "cli"],
    "server.handlers": ["notebook", "cli"],
    "server.worker": ["notebook", "cli"],
}


@pytest.mark.parametrize("layer", list(ABOVE))
def test_layer_imports_point_down(layer: str) -> None:
    banned = [f"scanflow_jupyter.{above}" for above in ABOVE[layer]]
    if layer != "notebook":
        banned += ["IPython", "ipywidgets"]  # only notebook/ may import these
    if not layer.startswith("server.handlers"):
        banned += ["jupyter_server", "tornado"]  # only server/ imports them, and only when a server loads it
    if layer in ("errors", "workflow", "engine"):
        banned += ["mlflow"]  # MLflow is imported when a tracked run starts, not with the engine
    if layer.startswith("deploy"):
        banned += ["docker", "mlflow"]  # the docker SDK loads when an engine is first needed
    if layer == "checking":
        banned += ["tensorflow", "keras", "mlflow"]  # imported when a detector is fitted, logged or loaded
    if layer.startswith("agents"):
        banned += ["tensorflow", "keras", "mlflow", "docker"]  # when an agent first reads, records, checks or deploys
    code = BLOCKER.format(banned=banned, layer=layer)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_import_is_cheap() -> None:
    code = (
        "import sys, scanflow_jupyter; print(sorted(m for m in ('mlflow', 'pydantic', 'docker', 'kubernetes', "
        "'tensorflow', 'IPython', 'graphviz') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_public_api_resolves() -> None:
    for name in scanflow_jupyter.__all__:
        assert getattr(scanflow_jupyter, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        scanflow_jupyter.nope  # noqa: B018


def test_error_tree_is_documented_and_exported() -> None:
    classes = {n for n, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.ScanflowError)}
    assert classes <= set(errors.__all__)
    for name in classes:
        assert name in (errors.__doc__ or ""), f"{name} missing from the tree in errors.py's docstring"
        assert issubclass(getattr(errors, name), errors.ScanflowError)
