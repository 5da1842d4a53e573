"""The run browser's query language: MLflow's search syntax, plus ``OR`` and quick filters.

MLflow's ``filter_string`` is an AND of conditions. Ours is an OR of such ANDs (``OR`` binds loosest,
no parentheses but those of an ``IN`` list): ``metrics.acc > 0.9 OR params.model = 'tree'``. Each side is
checked with MLflow's own parser, so a condition means exactly what it means to ``mlflow.search_runs``; the
backends run the sides as one SQL query (:mod:`.sqlquery`) or as one MLflow search each, merged
(:mod:`.queries`).

Columns and sort keys are named as in MLflow: ``metrics.KEY``, ``params.KEY``, ``tags.KEY``,
``attributes.NAME`` (a bare ``start_time`` is an attribute); keys with dots or spaces may be quoted
(``tags."scanflow.workflow"``).

Example
-------
>>> split_or("metrics.acc > 0.9 OR params.model = 'a OR b'")
['metrics.acc > 0.9', "params.model = 'a OR b'"]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import RunQueryError

ColumnKind = Literal["attribute", "param", "metric", "tag"]

# Attributes a column or a sort may name (duration is computed from start and end, shown but not sortable).
ATTRIBUTES = ("run_name", "status", "start_time", "end_time", "duration", "user_id", "run_id", "experiment_id")
SORTABLE_ATTRIBUTES = ("run_name", "status", "start_time", "end_time", "user_id", "run_id")
STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
_PREFIXES: dict[str, ColumnKind] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
_CANONICAL = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes"}
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)
_IN_LIST = re.compile(r"\sin\s*$", re.IGNORECASE)  # the text before an IN list's "("

HELP = (
    "Write conditions as in mlflow.search_runs, e.g. metrics.acc > 0.9 AND params.lr = '0.01' AND "
    "attributes.status = 'FINISHED', and join alternatives with OR (no parentheses)."
)


@dataclass(frozen=True)
class Column:
    """A column of the run table: ``kind`` and ``key`` (``Column.parse("metrics.acc")``)."""

    kind: ColumnKind
    key: str

    @property
    def name(self) -> str:
        """The canonical name, ``metrics.acc`` (keys with dots or spaces quoted: ``tags."a.b"``)."""
        key = self.key if re.fullmatch(r"[A-Za-z0-9_\-]+", self.key) else f'"{self.key}"'
        return f"{_CANONICAL[self.kind]}.{key}"

    @classmethod
    def parse(cls, text: str) -> Column:
        """Read a column name; a malformed one or an unknown attribute is a ``RunQueryError``."""
        raw = text.strip()
        if raw in ATTRIBUTES:
            return cls("attribute", raw)
        prefix, dot, rest = raw.partition(".")
        kind = _PREFIXES.get(prefix.lower()) if dot else None
        key = rest.strip()
        if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'`":
            key = key[1:-1]
        if kind is None or not key:
            raise RunQueryError(
                f"Unknown column {text!r}: name a column as metrics.KEY, params.KEY, tags.KEY or one of the "
                f"attributes {', '.join(ATTRIBUTES)}."
            )
        if kind == "attribute":
            key = {"name": "run_name", "created": "start_time", "id": "run_id"}.get(key, key)
            if key not in ATTRIBUTES:
                raise RunQueryError(f"Unknown attribute column {text!r}; attributes are {', '.join(ATTRIBUTES)}.")
        return cls(kind, key)


@dataclass(frozen=True)
class SortKey:
    """One ``order_by`` entry: a column and its direction."""

    column: Column
    ascending: bool

    @property
    def text(self) -> str:
        return f"{self.column.name} {'ASC' if self.ascending else 'DESC'}"

    @classmethod
    def parse(cls, text: str) -> SortKey:
        """``"metrics.acc DESC"``; an unknown column or direction is a ``RunQueryError``."""
        parts = text.strip().rsplit(None, 1)
        ascending = True
        if len(parts) == 2 and parts[1].upper() in ("ASC", "DESC"):
            ascending = parts[1].upper() == "ASC"
            text = parts[0]
        column = Column.parse(text)
        if column.kind == "attribute" and column.key not in SORTABLE_ATTRIBUTES:
            raise RunQueryError(
                f"Cannot sort by {column.key!r}: sort by one of {', '.join(SORTABLE_ATTRIBUTES)}, or a metric, "
                "param or tag."
            )
        return cls(column, ascending)


def split_or(text: str) -> list[str]:
    """Split a filter on top-level ``OR`` (outside quotes); empty sides are refused."""
    sides: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            current.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            current.append(ch)
        elif ch == "(" and _IN_LIST.search("".join(current)):
            # A value list, ``attributes.run_id IN ('a', 'b')``: kept whole (an OR inside quotes stays data).
            end = _list_end(text, i)
            current.append(text[i:end])
            i = end
            continue
        elif ch in "()":
            raise RunQueryError(f"Invalid filter {text!r}: parentheses are not supported (but in IN lists). {HELP}")
        else:
            match = _OR.match(text, i) if ch.isspace() else None
            if match is not None:
                sides.append("".join(current))
                current = []
                i = match.end()
                continue
            current.append(ch)
        i += 1
    if quote is not None:
        raise RunQueryError(f"Invalid filter {text!r}: a {quote} quote is not closed. {HELP}")
    sides.append("".join(current))
    sides = [s.strip() for s in sides]
    dangling = any(re.fullmatch(r"(?is)or|or\s.*|.*\sor", s) for s in sides)
    if (len(sides) > 1 and not all(sides)) or dangling:
        raise RunQueryError(f"Invalid filter {text!r}: OR needs a condition on each side. {HELP}")
    return [s for s in sides if s]


def _list_end(text: str, start: int) -> int:
    """The index after the ``)`` closing the value list that opens at ``start``."""
    quote: str | None = None
    for i in range(start + 1, len(text)):
        ch = text[i]
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == ")":
            return i + 1
        elif ch == "(":
            break
    raise RunQueryError(f"Invalid filter {text!r}: the IN list at {text[start : start + 20]!r} is not closed. {HELP}")


def parse_side(side: str) -> list[dict[str, Any]]:
    """One AND of conditions, parsed (and checked) by MLflow: ``[{type, key, comparator, value}]``."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    try:
        clauses: list[dict[str, Any]] = SearchUtils.parse_search_filter(side)  # type: ignore[no-untyped-call]
    except MlflowException as exc:
        reason = str(exc.message if hasattr(exc, "message") else exc).rstrip(".")
        raise RunQueryError(f"Invalid filter {side!r}: {reason}. {HELP}") from None
    return clauses


def quote(value: str) -> str:
    """A string literal of MLflow's filter syntax."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise RunQueryError(f"Cannot filter on {value!r}: it holds both kinds of quote.")
