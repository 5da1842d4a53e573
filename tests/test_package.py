"""Package-wide rules: layers import downwards only (loaded with the layers above blocked, and on the source by
an AST pass that sees imports inside functions), sibling backends never import each other, the import is cheap,
the error tree is complete."""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

import scanflow_jupyter
from scanflow_jupyter import errors

from .layers import Rules, circles, violations

PACKAGE = Path(scanflow_jupyter.__file__).parent

# Each layer, and the layers above it that it must not import (DESIGN.md).
LAYERS = [
    "errors",
    "step",
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
    # step (the values API a step's code imports) sits on errors only: a step pays next to nothing for it.
    "step": LAYERS[2:],
    "workflow": LAYERS[3:],
    "tracking": LAYERS[4:],
    "engine": LAYERS[5:],
    # checking sits beside deploy and below active/agents: it may use workflow, tracking and engine only.
    "checking": ["deploy", "active", "agents", "notebook", "cli", "server"],
    # deploy sits beside checking: workflow, tracking, engine and errors only (the whole Docker backend loads).
    "deploy": ["checking", "active", "agents", "notebook", "cli", "server"],
    "deploy.docker.app": ["checking", "active", "agents", "notebook", "cli", "server"],
    # active/ (rankers, labeling) uses checking's detectors; only agents/ and the entry points are above it.
    "active": ["agents", "notebook", "cli", "server"],
    # agents sit on every layer but notebook/ and cli; their service entry point is what a container runs.
    "agents": ["notebook", "cli", "server"],
    "agents.service": ["notebook", "cli", "server"],
    "notebook": ["cli", "server"],
    # cli/ is an entry point beside notebook/ and server/: the same services, none of their modules.
    "cli": ["notebook", "server"],
    # server/ sits beside notebook/ and cli: it shares their services, never their modules.
    "server": ["notebook", "cli"],
    "server.handlers": ["notebook", "cli"],
    "server.worker": ["notebook", "cli"],
}

# Siblings that never import each other, even inside a function: what they share lives in a common module
# (cli/common.py, notebook/deploy_shown.py).
SIBLINGS = [
    ("cli.docker", "cli.kubernetes"),
    ("cli.swarm", "cli.docker"),
    ("cli.swarm", "cli.kubernetes"),
    ("notebook.deploy_docker", "notebook.deploy_kubernetes"),
    ("notebook.deploy_swarm", "notebook.deploy_docker"),
    ("notebook.deploy_swarm", "notebook.deploy_kubernetes"),
]
# Packages whose subpackages are siblings, however many there are: the deployment backends share deploy/base.py,
# deploy/container.py and deploy/builder.py, never each other's modules.
FAMILIES = ["deploy"]
# One-way bans beyond the layers: the agents reach the Docker backend through a DockerApp they are given.
BANNED = [
    ("agents", "deploy.docker", "use the DockerApp's methods (agent_image, run_agent...) or deploy/container.py"),
]
RULES = Rules(
    above={layer: banned for layer, banned in ABOVE.items() if "." not in layer},
    siblings=SIBLINGS,
    families=FAMILIES,
    banned=BANNED,
)


def backends() -> list[str]:
    """The deployment backends (the subpackages of deploy/), dotted: ``deploy.docker``, ``deploy.kubernetes``..."""
    return sorted(f"deploy.{p.parent.name}" for p in (PACKAGE / "deploy").glob("*/__init__.py"))


def subpackages() -> list[str]:
    """Every subpackage of scanflow_jupyter, dotted (``deploy``, ``deploy.docker``, ``notebook.widgets``...)."""
    found = [p.parent.relative_to(PACKAGE).as_posix().replace("/", ".") for p in PACKAGE.rglob("__init__.py")]
    return sorted(f for f in found if f != "." and all(part.isidentifier() for part in f.split(".")))


def banned_above(layer: str) -> list[str]:
    """The layers ``layer`` (a layer, subpackage or module) must not load: its own entry, else its layer's."""
    if layer in ABOVE:
        return ABOVE[layer]
    return ABOVE[layer.split(".")[0]]


def test_every_layer_has_rules() -> None:
    layers = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")} | {
        s.split(".")[0] for s in subpackages()
    }
    assert layers == set(RULES.above), "add the new layer to LAYERS/ABOVE (and to DESIGN.md's picture)"


@pytest.mark.parametrize("layer", sorted({*ABOVE, *subpackages()}))
def test_layer_imports_point_down(layer: str) -> None:
    banned = [f"scanflow_jupyter.{above}" for above in banned_above(layer)]
    for a, b in [*SIBLINGS, *itertools.combinations(backends(), 2)]:  # a sibling backend is not loaded either
        for mine, theirs in ((a, b), (b, a)):
            if layer == mine or layer.startswith(mine + "."):
                banned.append(f"scanflow_jupyter.{theirs}")
    if layer.split(".")[0] != "notebook":
        banned += ["IPython", "ipywidgets"]  # only notebook/ may import these
    if not layer.startswith("server.handlers"):
        banned += ["jupyter_server", "tornado"]  # only server/ imports them, and only when a server loads it
    if layer in ("errors", "step", "workflow", "engine"):
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


def test_no_upward_sibling_or_private_import_anywhere_in_the_source() -> None:
    assert violations(PACKAGE, RULES) == []


def test_no_import_circle_through_the_entry_points() -> None:
    assert circles(PACKAGE, ["cli", "notebook"]) == []


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``root`` with ``files`` (``{"workflow/model.py": source}``) and every __init__."""
    package = root / "pkg"
    for name, source in {"__init__.py": "", "errors.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = path.parent
        while folder != root:  # every folder from the file's up to pkg/ is a package
            (folder / "__init__.py").touch()
            folder = folder.parent
        path.write_text(source)
    return package


def test_the_checker_catches_an_upward_import_inside_a_function(tmp_path: Path) -> None:
    package = write_tree(
        tmp_path,
        {
            "workflow/model.py": "from ..errors import Bad\n\n\ndef draw():\n    from ..notebook import widgets\n",
            "notebook/widgets.py": "from ..workflow import model\n",
        },
    )
    found = violations(package, RULES)
    assert len(found) == 1, found
    assert found[0].startswith(f"{package / 'workflow' / 'model.py'}:5: pkg.workflow.model imports pkg.notebook")
    assert "layer 'workflow' must not import layer 'notebook'" in found[0]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"deploy/kubernetes/manifests.py": "def f():\n    from ..docker.dockerfile import APP_DIR\n"},
            r"pkg.deploy.kubernetes.manifests imports pkg.deploy.docker.dockerfile: deploy.kubernetes must not "
            r"import its sibling deploy.docker",
        ),
        (
            {"deploy/docker/app.py": "def f():\n    from .. import kubernetes\n", "deploy/kubernetes/__init__.py": ""},
            r"pkg.deploy.docker.app imports pkg.deploy.kubernetes: deploy.docker must not import its sibling",
        ),
        (
            {"cli/kubernetes.py": "def f():\n    from .common import _guard\n", "cli/common.py": ""},
            r"takes private name\(s\) _guard; make them public helpers",
        ),
        (
            {"engine/run.py": "import pkg.server.handlers\n", "server/handlers.py": ""},
            r"layer 'engine' must not import layer 'server'",
        ),
        (  # a third backend is a sibling of both, with no rule to add
            {"deploy/swarm/app.py": "def f():\n    from ..docker.app import DockerApp\n", "deploy/docker/app.py": ""},
            r"pkg.deploy.swarm.app imports pkg.deploy.docker.app: deploy.swarm must not import its sibling "
            r"deploy.docker",
        ),
        (
            {"agents/kubernetes.py": "if TYPE_CHECKING:\n    from ..deploy.docker import BuildEvent\n"},
            r"pkg.agents.kubernetes imports pkg.deploy.docker: agents must not import deploy.docker",
        ),
    ],
    ids=[
        "kubernetes imports docker in a function",
        "docker imports kubernetes",
        "a private name",
        "absolute",
        "a third backend",
        "agents import docker",
    ],
)
def test_the_checker_catches_siblings_and_private_names(tmp_path: Path, files: dict[str, str], message: str) -> None:
    found = violations(write_tree(tmp_path, files), RULES)
    assert len(found) == 1 and re.search(message, found[0]), found


def test_what_the_backends_share_is_not_a_sibling(tmp_path: Path) -> None:
    files = {
        "deploy/base.py": "",
        "deploy/container.py": "",
        "deploy/docker/app.py": "from ..base import Deployment\nfrom ..container import UID\n",
        "deploy/kubernetes/app.py": "def f():\n    from ..base import Deployment\n",
        "agents/kubernetes.py": "from ..deploy.kubernetes import app\nfrom ..deploy.container import UID\n",
    }
    assert violations(write_tree(tmp_path, files), RULES) == []


def test_the_checker_catches_an_import_circle(tmp_path: Path) -> None:
    package = write_tree(
        tmp_path,
        {"cli/main.py": "from . import kubernetes\n", "cli/kubernetes.py": "def f():\n    from .main import guard\n"},
    )
    assert circles(package, ["cli"]) == [("pkg.cli.kubernetes", "pkg.cli.main")]


def _environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _finds_uri(node: ast.AST) -> bool:
    """``mlflow.get_tracking_uri()``, ``os.getenv``/``os.environ.get("MLFLOW_TRACKING_URI")`` or
    ``os.environ["MLFLOW_TRACKING_URI"]`` read (a dict of our own under that key is not the environment)."""
    uri = "MLFLOW_TRACKING_URI"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        named = bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == uri
        env_get = node.func.attr == "getenv" or (node.func.attr == "get" and _environ(node.func.value))
        return node.func.attr == "get_tracking_uri" or (named and env_get)
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Load)
        and _environ(node.value)
        and isinstance(node.slice, ast.Constant)
        and node.slice.value == uri
    )


def uri_resolutions(root: Path) -> list[str]:
    """``FILE:LINE`` of every place under the package folder ``root`` that finds the tracking URI itself."""
    return [
        f"{path.relative_to(root).as_posix()}:{node.lineno}"  # type: ignore[attr-defined]
        for path in sorted(root.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if _finds_uri(node)
    ]


# Who may find the tracking URI besides tracking/store.py (resolve, resolve_uri), and why.
URI_READERS = {
    "checking/mlflow_model.py": "restores the variable after pointing MLflow at a given store, resolves nothing",
    "active/versions.py": "MLflow's current store as a labeling session's default (active/ is not this change's)",
    "engine/launch.py": "inside the step: reads the URI the engine gave it, to find the journal its run waits on",
}


def test_the_tracking_uri_has_one_resolver() -> None:
    """The widgets, the agents, the deploy backends and the entry points call tracking/store.py's resolver."""
    readers = {place.split(":")[0] for place in uri_resolutions(PACKAGE)}
    assert {r for r in readers if not r.startswith("tracking/")} <= set(URI_READERS), readers


def test_a_second_resolver_is_found(tmp_path: Path) -> None:
    package = write_tree(
        tmp_path,
        {
            "notebook/graph.py": "import os\n\n\ndef uri():\n    return os.environ.get('MLFLOW_TRACKING_URI')\n",
            "agents/runtime.py": "A = mlflow.get_tracking_uri()\nB = os.environ['MLFLOW_TRACKING_URI']\n",
        },
    )
    assert uri_resolutions(package) == ["agents/runtime.py:1", "agents/runtime.py:2", "notebook/graph.py:5"]


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
