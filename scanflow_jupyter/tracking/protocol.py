"""What the engine needs of a run's recorder: :class:`.recorder.RunRecorder` (MLflow's client, in the writer
process) and :class:`.journaled.JournalRecorder` (the journal, drained into MLflow later) both are one. Nothing
here imports MLflow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from .store import StoreConfig


class Recorder(Protocol):
    """Writes one workflow run's MLflow runs: the parent run, nested-workflow runs and step runs."""

    config: StoreConfig
    experiment_id: str
    failures: list[str]  # errors of background writes, for the run to report

    @property
    def writer_pid(self) -> int: ...

    @property
    def writer_restarts(self) -> int: ...

    def start_workflow(self, run_name: str, tags: Mapping[str, str], graph: Mapping[str, Any]) -> str: ...

    def reopen_workflow(self, run_id: str, groups: Mapping[str, str]) -> None: ...

    def start_node(self, parent: str, address: str, tags: Mapping[str, str], groups: dict[str, str]) -> str: ...

    def inventory(self, scanflow_run_id: str) -> list[dict[str, Any]]: ...

    def record_cached(
        self,
        parent: str,
        address: str,
        tags: Mapping[str, str],
        groups: dict[str, str],
        source: str | None,
        params: Mapping[str, Any],
        source_run: str | None = None,
    ) -> Future[str]: ...

    def finish_node(
        self,
        run_id: str,
        state: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        logs: Mapping[str, Path],
        timestamp: float | None = None,
        artifacts: Mapping[str, Sequence[Path]] | None = None,
    ) -> None: ...

    def finish_group(self, parent: str, group: str, state: str) -> None: ...

    def finish_run(self, run_id: str, state: str) -> None: ...

    def mark_stale(self, run_ids: list[str], status: str = "KILLED") -> None: ...

    def supersede(self, run_ids: list[str]) -> None: ...

    def close(self) -> None: ...
