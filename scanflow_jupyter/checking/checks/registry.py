"""The registry of integrity checks: scanflow's own and those other packages declare as entry points.

A package adds a check by subclassing :class:`~scanflow_jupyter.checking.checks.IntegrityCheck` and declaring it
in its ``pyproject.toml``::

    [project.entry-points."scanflow_jupyter.checks"]
    non_negative = "my_package.checks:NonNegative"

Every detector fitted after the package is installed can then use ``checks=[..., "non_negative"]``, and a saved
detector that used it finds it again by name when it is loaded. Scanflow's own checks are declared the same way
(in its ``pyproject.toml``) and are also known without the entry points, so a source checkout works too.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from ...errors import CheckPluginError
from .base import IntegrityCheck
from .builtin import Categories, Duplicates, FeatureDrift, LabelShift, MissingValues, PriorShift, Ranges, Schema

__all__ = ["BUILTIN_CHECKS", "DEFAULT_CHECKS", "ENTRY_POINT_GROUP", "available_checks", "check_class"]

ENTRY_POINT_GROUP = "scanflow_jupyter.checks"
BUILTIN_CHECKS: dict[str, type[IntegrityCheck]] = {
    cls.name: cls
    for cls in (Schema, Ranges, Categories, MissingValues, Duplicates, LabelShift, PriorShift, FeatureDrift)
}
# What a detector runs unless told otherwise (each only where it applies: label shift needs labels, ...).
DEFAULT_CHECKS: tuple[str, ...] = tuple(BUILTIN_CHECKS)


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available_checks() -> dict[str, str]:
    """Every check by name, with where it comes from (``scanflow`` or the entry point's value)."""
    out = {name: "scanflow" for name in BUILTIN_CHECKS}
    for name, ep in _entry_points().items():
        if name not in out or not ep.value.startswith("scanflow_jupyter."):
            out[name] = ep.value
    return dict(sorted(out.items()))


def check_class(name: str) -> type[IntegrityCheck]:
    """The check class registered under ``name``: a plugin's entry point first, else scanflow's own."""
    points = _entry_points()
    if name in points and not points[name].value.startswith("scanflow_jupyter."):
        ep = points[name]
        try:
            loaded = ep.load()
        except Exception as exc:
            raise CheckPluginError(
                f"the check {name!r} (entry point {ep.value!r} of group {ENTRY_POINT_GROUP!r}) does not load "
                f"({type(exc).__name__}: {exc}); reinstall the package that declares it, or drop {name!r} from checks"
            ) from exc
        if not (isinstance(loaded, type) and issubclass(loaded, IntegrityCheck)):
            raise CheckPluginError(
                f"the check {name!r} (entry point {ep.value!r}) is a {type(loaded).__name__}, not an IntegrityCheck "
                "subclass: point the entry point at a class that subclasses scanflow_jupyter.checking.IntegrityCheck"
            )
        return loaded
    if name in BUILTIN_CHECKS:
        return BUILTIN_CHECKS[name]
    raise CheckPluginError(
        f"no integrity check is named {name!r}: use one of {', '.join(available_checks())}, or install the package "
        f"that declares it (entry point group {ENTRY_POINT_GROUP!r})"
    )
