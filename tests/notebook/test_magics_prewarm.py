"""``%scanflow load`` and ``%scanflow new`` start the application's MLflow writer ahead of the first run, in a
Jupyter kernel and with tracking on (benchmarks/notebook_latency: the first run's first step 2.3 s -> 0.2 s)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import scanflow_jupyter.tracking
from scanflow_jupyter.tracking import StoreConfig, default_uri

from ..conftest import ROOT

Magic = Callable[[str], Any]


@pytest.fixture
def prewarmed(monkeypatch: pytest.MonkeyPatch) -> list[StoreConfig]:
    """The stores prewarm was asked to start (nothing is started)."""
    calls: list[StoreConfig] = []
    monkeypatch.setattr(scanflow_jupyter.tracking, "prewarm", calls.append)
    return calls


@pytest.fixture
def in_kernel(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # what ipykernel's shell has


def test_load_and_new_prewarm_the_store_in_a_kernel(
    in_kernel: None, sf: Magic, prewarmed: list[StoreConfig], tmp_path: Path
) -> None:
    sf(f"new demo --folder {tmp_path / 'demo'}")
    sf(f"load {ROOT / 'examples' / 'tabular'}")
    assert [config.uri for config in prewarmed] == [
        default_uri(tmp_path / "demo"),
        default_uri(ROOT / "examples" / "tabular"),
    ]


def test_no_prewarm_with_tracking_off(in_kernel: None, sf: Magic, magics: Any, prewarmed: list[StoreConfig]) -> None:
    magics.tracking = False
    sf(f"load {ROOT / 'examples' / 'tabular'}")
    assert prewarmed == []


def test_no_prewarm_outside_a_kernel(sf: Magic, prewarmed: list[StoreConfig]) -> None:
    sf(f"load {ROOT / 'examples' / 'tabular'}")
    assert prewarmed == []
