"""Calls with a time limit, for what cannot be interrupted: a name lookup, loading a model.

Example
-------
>>> call_within(5.0, lambda: 2 + 2)
4
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["call_within"]

T = TypeVar("T")


def call_within(seconds: float, fn: Callable[[], T]) -> T:
    """``fn()``, or :class:`TimeoutError` when it has not returned within ``seconds`` (what it raises is raised).
    It runs in a daemon thread, left to finish on its own if it overruns: the caller goes on, and an overrun that
    never ends does not keep the process alive."""
    done = threading.Event()
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the caller
            out["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="scanflow-deadline", daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError(f"no result within {seconds:g} s")
    if "error" in out:
        raise out["error"]
    return out["value"]  # type: ignore[no-any-return]
