"""The actions every backend of ``%scanflow deploy`` does through its :class:`DeployPanel` (build, start, run,
stop, status, clean up): the panel shown, the action done, its outcome printed."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from .widgets.deploy import DeployPanel

__all__ = ["perform_shown"]


def perform_shown(panel: DeployPanel, args: argparse.Namespace, workers: int) -> Any:
    """Show ``panel`` and do ``args.action`` (build, up, run, down, status, cleanup) through it, on any backend;
    returns a run's result, else None. A failed run becomes a ``UsageError``."""
    action = args.action
    display(panel)  # type: ignore[no-untyped-call]
    options: dict[str, Any] = {}
    if action == "run":
        options = {"workflow": args.target, "workers": args.workers or workers, "force": args.force}
    result = panel.perform(action, **options)
    if action == "run":
        print(f"{result.run_id} {result.status} {dict((a, s.value) for a, s in result.states.items())}")
        if not result.ok:
            raise UsageError(panel.error or f"run {result.run_id} {result.status}")
        return result
    if action in ("status", "cleanup"):
        print(result)
        return None
    print(panel.message)
    return None
