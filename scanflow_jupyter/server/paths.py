"""Paths of server requests: relative to the server's root folder, and never outside it.

Example
-------
>>> from pathlib import Path
>>> confine(Path("/srv/root"), "apps/../apps/tabular")            # doctest: +SKIP
PosixPath('/srv/root/apps/tabular')
>>> confine(Path("/srv/root"), "../etc")                          # doctest: +SKIP
Traceback (most recent call last):
PathOutsideRootError: ...
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..errors import PathOutsideRootError
from ..workflow.spec import SPEC_FILE


def confine(root: Path, relative: str) -> Path:
    """``relative`` (a ``/``-separated path as JupyterLab's contents API has them) resolved under ``root``;
    raises :class:`~scanflow_jupyter.errors.PathOutsideRootError` when it leads outside (``..``, an absolute path,
    a symbolic link out of the root)."""
    base = root.resolve()
    pure = PurePosixPath(relative.strip())
    if pure.is_absolute() or "\\" in relative or "\0" in relative:
        raise PathOutsideRootError(
            f"The path {relative!r} is not relative to the server's root; send a path such as 'apps/tabular'."
        )
    target = (base / pure).resolve()
    if target != base and not target.is_relative_to(base):
        raise PathOutsideRootError(
            f"The path {relative!r} leads outside the server's root folder; only files under it can be opened."
        )
    return target


def relative_to_root(root: Path, path: Path) -> str:
    """``path`` as the front end names it: relative to ``root``, ``/``-separated, ``""`` for the root itself."""
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    return "" if rel == "." else rel


def app_folder(root: Path, relative: str) -> Path:
    """The application folder a request names: the folder itself, or its ``scanflow.yaml``."""
    target = confine(root, relative)
    return target.parent if target.name == SPEC_FILE else target
