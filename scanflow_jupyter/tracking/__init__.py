"""MLflow tracking: where runs are stored and the run hierarchy of a workflow run.

MLflow itself is imported only when a recorder is created, never at package import.
"""

from __future__ import annotations

from .recorder import RunRecorder, prewarm
from .store import StoreConfig, default_uri, resolve

__all__ = ["RunRecorder", "StoreConfig", "default_uri", "prewarm", "resolve"]
