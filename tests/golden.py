"""Golden files: generated text (Dockerfiles, compose files, manifests) compared with a committed copy.

``SCANFLOW_UPDATE_GOLDEN=1 pytest ...`` rewrites the copies (review them in the diff before committing). With
``CI=true`` that variable is refused: CI compares, it never regenerates what it is meant to check.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def updating() -> bool:
    """True when the golden files are to be rewritten (refused in CI)."""
    if not os.environ.get("SCANFLOW_UPDATE_GOLDEN"):
        return False
    if os.environ.get("CI", "").lower() in {"1", "true"}:
        pytest.fail("SCANFLOW_UPDATE_GOLDEN is set in CI: CI checks golden files, it never rewrites them.")
    return True


def check_golden(path: Path, text: str) -> None:
    """Assert ``text`` equals the golden file ``path`` (or rewrite it with SCANFLOW_UPDATE_GOLDEN=1)."""
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with SCANFLOW_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{path.name} differs from its golden file (SCANFLOW_UPDATE_GOLDEN=1 regenerates)"
