"""``StatusTable``: one run, step by step, as an HTML table in a notebook and as text elsewhere.

Every value is user or step text, so it is escaped, never read as HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..engine.state import RunState
from ..workflow.colours import STATUS_COLOURS

_COLOURS = STATUS_COLOURS


@dataclass(frozen=True)
class StepRow:
    """One step of a run."""

    address: str
    state: str
    seconds: float | None
    attempts: int
    error: str
    mlflow_run_id: str | None


class StatusTable:
    """The state of a run (``%scanflow status``): its status and a row per step.

    Example
    -------
    >>> table = StatusTable(sf.engine.status(app))     # doctest: +SKIP
    >>> [row.state for row in table.rows]              # doctest: +SKIP
    ['succeeded', 'failed', 'skipped']
    """

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.rows = [
            StepRow(
                address,
                record.state,
                round(record.finished - record.started, 3) if record.started and record.finished else None,
                record.attempts,
                (record.error or "").splitlines()[0] if record.error else "",
                record.mlflow_run_id,
            )
            for address, record in state.nodes.items()
        ]

    @property
    def run_id(self) -> str:
        return self.state.run_id

    @property
    def status(self) -> str:
        return self.state.status

    def _hint(self) -> str:
        if self.state.status in ("failed", "interrupted", "cancelled"):
            return f"resume it with: %scanflow resume {self.state.run_id}"
        return ""

    def __repr__(self) -> str:
        lines = [f"run {self.state.run_id} ({self.state.workflow}): {self.state.status}"]
        for row in self.rows:
            took = f"{row.seconds:.1f} s" if row.seconds is not None else ""
            lines.append(f"  {row.address:<30} {row.state:<10} {took:>8}  {row.error}".rstrip())
        if self._hint():
            lines.append(self._hint())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        def cell(text: object, style: str = "") -> str:
            attr = f' style="{style}"' if style else ""
            return f"<td{attr}>{html.escape(str(text))}</td>"

        rows = "".join(
            "<tr>"
            + cell(row.address, "text-align:left")
            + cell(row.state, f"text-align:left;color:{_COLOURS.get(row.state, 'inherit')}")
            + cell(f"{row.seconds:.1f} s" if row.seconds is not None else "")
            + cell(row.attempts)
            + cell(row.error, "text-align:left")
            + cell(row.mlflow_run_id or "", "text-align:left;font-family:monospace")
            + "</tr>"
            for row in self.rows
        )
        head = "".join(f"<th>{h}</th>" for h in ("step", "state", "duration", "attempts", "error", "MLflow run"))
        colour = _COLOURS.get(self.state.status, "inherit")
        hint = f"<div>{html.escape(self._hint())}</div>" if self._hint() else ""
        return (
            f"<div><b>run {html.escape(self.state.run_id)}</b> ({html.escape(self.state.workflow)}): "
            f'<b style="color:{colour}">{html.escape(self.state.status)}</b></div>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{hint}"
        )
