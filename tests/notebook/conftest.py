"""A real IPython shell with the extension loaded, in a scratch working directory; widgets closed after
each test so no view stays subscribed to the engine's event stream."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ipywidgets
import pytest
from IPython.core.interactiveshell import InteractiveShell

import scanflow_jupyter


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.chdir(tmp_path)
    ip = InteractiveShell.instance()
    scanflow_jupyter.load_ipython_extension(ip)  # a fresh ScanflowMagics: no application loaded
    yield ip
    ip.config.pop("ScanflowMagics", None)  # %config in one test must not reach the next
    ipywidgets.Widget.close_all()


@pytest.fixture
def magics(shell: InteractiveShell) -> Any:
    return shell.magics_manager.registry["ScanflowMagics"]


@pytest.fixture
def sf(shell: InteractiveShell) -> Callable[[str], Any]:
    """``sf("run --force")`` is ``%scanflow run --force``."""
    return lambda line: shell.run_line_magic("scanflow", line)


@pytest.fixture
def step_cell(shell: InteractiveShell) -> Callable[[str, str], Any]:
    """``step_cell("prep --param rows=3", "print(rows)")`` is a ``%%scanflow step`` cell."""
    return lambda line, cell: shell.run_cell_magic("scanflow", f"step {line}", cell)


@pytest.fixture(autouse=True)
def _close_widgets() -> Iterator[None]:
    """No widget outlives its test (an open GraphView stays subscribed to the engine's events)."""
    yield
    ipywidgets.Widget.close_all()


def step(name: str, *after: str, **extra: Any) -> dict[str, Any]:
    """A YAML node for ``make_app``: an executor running ``step.py`` after ``after``."""
    return {"name": name, "script": "step.py", **({"depends_on": list(after)} if after else {}), **extra}


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
