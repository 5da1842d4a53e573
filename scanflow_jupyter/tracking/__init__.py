"""MLflow tracking: where runs are stored, the run hierarchy of a workflow run, and paged run queries.

MLflow itself is imported only when a recorder is created, never at package import.
"""

from __future__ import annotations

from .journaled import JournalRecorder, detach, open_recorder
from .protocol import Recorder
from .queries import RunPage, RunQuery, RunStore
from .recorder import RunRecorder, prewarm
from .store import StoreConfig, default_uri, redact, resolve, resolve_uri

__all__ = [
    "JournalRecorder",
    "Recorder",
    "RunPage",
    "RunQuery",
    "RunRecorder",
    "RunStore",
    "StoreConfig",
    "default_uri",
    "detach",
    "open_recorder",
    "prewarm",
    "redact",
    "resolve",
    "resolve_uri",
]
