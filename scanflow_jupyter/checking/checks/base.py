"""What an integrity check is: the data it sees (:class:`CheckData`), what it says (:class:`CheckResult`) and the
base class a plugin subclasses (:class:`IntegrityCheck`).

A check is fitted on reference data (it learns a schema, ranges, categories, rates, a sample of values) and then
run on batches. Its fitted state is plain data (JSON values and NumPy arrays), so it is saved inside a detector's
MLflow model and rebuilt by name from the registry (:mod:`~scanflow_jupyter.checking.checks.registry`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from ...errors import InvalidDataError

__all__ = ["CheckData", "CheckResult", "Column", "Finding", "IntegrityCheck", "as_check_data", "feature_label"]

Kind = Literal["numeric", "categorical"]
MAX_NAMED = 5  # findings a message names before "and N more"


@dataclass(frozen=True)
class Column:
    """One feature of the data: numeric (float64, NaN when missing) or categorical (objects, None when missing)."""

    name: str
    kind: Kind
    values: npt.NDArray[Any]

    def missing(self) -> npt.NDArray[np.bool_]:
        if self.kind == "numeric":
            return np.asarray(~np.isfinite(self.values))
        return np.asarray([_is_missing(v) for v in self.values], dtype=bool)

    def present(self) -> npt.NDArray[Any]:
        """The values that are not missing."""
        return self.values[~self.missing()]


@dataclass
class CheckData:
    """A reference set or a batch as checks see it: named columns of one length, and optional labels and
    predictions (for label and prior shift). ``shape`` is the samples' shape for array data, else None."""

    columns: list[Column]
    n_rows: int
    labels: npt.NDArray[Any] | None = None
    predictions: npt.NDArray[Any] | None = None
    shape: tuple[int, ...] | None = None
    _row_keys: npt.NDArray[np.uint64] | None = field(default=None, repr=False)

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    def row_keys(self) -> npt.NDArray[np.uint64]:
        """A stable 64-bit hash of every row (the same row gives the same key in any process)."""
        if self._row_keys is None:
            if all(c.kind == "numeric" for c in self.columns):
                matrix = np.ascontiguousarray(
                    np.column_stack([c.values for c in self.columns]) if self.columns else np.zeros((self.n_rows, 0)),
                    dtype=np.float64,
                )
                # -0.0 and 0.0 are the same value; every NaN is the same missing value.
                matrix = np.where(matrix == 0.0, 0.0, matrix)
                matrix = np.where(np.isnan(matrix), np.nan, matrix)
                rows = [matrix[i].tobytes() for i in range(self.n_rows)]
            else:
                rows = [
                    "\x1f".join(repr(_plain(c.values[i])) for c in self.columns).encode() for i in range(self.n_rows)
                ]
            self._row_keys = np.array(
                [int.from_bytes(hashlib.blake2b(r, digest_size=8).digest(), "little") for r in rows], dtype=np.uint64
            )
        return self._row_keys


@dataclass(frozen=True)
class Finding:
    """One problem a check found, about one feature (or the whole batch when ``feature`` is None)."""

    feature: str | None
    message: str
    statistic: float | None = None
    p_value: float | None = None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one batch. ``message`` names the check and, when it failed, the features."""

    check: str
    passed: bool
    message: str
    findings: list[Finding] = field(default_factory=list)
    p_value: float | None = None
    alpha: float | None = None
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("p_value", "alpha"):
            data[key] = _json_number(data[key])
        for finding in data["findings"]:
            for key in ("statistic", "p_value"):
                finding[key] = _json_number(finding[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(**{**data, "findings": [Finding(**f) for f in data.get("findings", [])]})


class IntegrityCheck:
    """Base class of a check: subclass it, set ``name``, and implement :meth:`fit` and :meth:`run`.

    ``statistical`` checks are tests with a false-alarm rate: a suite splits its ``alpha`` among them (Bonferroni),
    so a batch from the reference distribution fails any of them with probability at most ``alpha``. Other checks
    (a schema, a category never seen) fail on a fact, not a test. The fitted state is whatever :meth:`state`
    returns (JSON values and NumPy arrays); :meth:`from_state` rebuilds the check from it.

    Example
    -------
    >>> class NonNegative(IntegrityCheck):
    ...     name = "non_negative"
    ...     def fit(self, reference):
    ...         self.columns = [c.name for c in reference.columns if c.kind == "numeric"]
    ...     def run(self, batch):
    ...         bad = [c.name for c in batch.columns if c.name in self.columns and (c.present() < 0).any()]
    ...         return self.result(not bad, [Finding(n, f"feature {n!r} has negative values") for n in bad])
    """

    name: ClassVar[str] = ""
    statistical: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init__(self, alpha: float = 0.05, **settings: Any) -> None:
        self.alpha = alpha
        self.settings = settings

    def applies(self, reference: CheckData) -> bool:
        """Whether the check has something to check on this reference (label shift needs labels, say)."""
        return True

    def fit(self, reference: CheckData) -> None:
        raise NotImplementedError

    def run(self, batch: CheckData) -> CheckResult:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """The fitted state: every attribute but the settings, as JSON values or arrays."""
        return {k: v for k, v in vars(self).items() if k not in ("alpha", "settings")}

    @classmethod
    def from_state(cls, state: dict[str, Any], *, alpha: float, settings: dict[str, Any]) -> IntegrityCheck:
        check = cls(alpha=alpha, **settings)
        for key, value in state.items():
            setattr(check, key, value)
        return check

    def result(
        self,
        passed: bool,
        findings: Sequence[Finding] = (),
        *,
        ok: str = "",
        p_value: float | None = None,
        skipped: bool = False,
    ) -> CheckResult:
        """A result whose message names this check and the features of its findings."""
        findings = list(findings)
        if skipped:
            message = f"{self.name}: skipped ({ok})"
        elif passed:
            message = f"{self.name}: passed" + (f" ({ok})" if ok else "")
        else:
            shown = "; ".join(f.message for f in findings[:MAX_NAMED])
            more = f"; and {len(findings) - MAX_NAMED} more" if len(findings) > MAX_NAMED else ""
            message = f"{self.name}: FAILED: {shown}{more}"
        return CheckResult(
            check=self.name,
            passed=passed,
            message=message,
            findings=findings,
            p_value=p_value,
            alpha=self.alpha if self.statistical else None,
            skipped=skipped,
        )


def feature_label(name: str) -> str:
    return f"feature {name!r}"


def as_check_data(
    data: Any,
    *,
    feature_names: Sequence[str] | None = None,
    labels: Any = None,
    predictions: Any = None,
    what: str = "the batch",
) -> CheckData:
    """Data as checks see it: a pandas DataFrame (its columns, by name) or an array of samples ``(n, ...)``
    (flattened; features named ``feature_names``, else by index: ``"3"`` for vectors, ``"2,5"`` for images).
    Unlike a detector, checks accept missing values (NaN, None): finding them is one of their jobs."""
    if isinstance(data, CheckData):
        return data
    if hasattr(data, "columns") and hasattr(data, "dtypes"):  # a pandas DataFrame
        columns = [_frame_column(str(name), data[name]) for name in data.columns]
        n = len(data)
        shape = None
    else:
        try:
            array = np.asarray(data)
        except (TypeError, ValueError) as exc:
            raise InvalidDataError(f"{what} is not an array or a DataFrame ({exc}): give one of those") from None
        if array.ndim < 2:
            raise InvalidDataError(
                f"{what} has shape {array.shape}: give samples as rows, shape (n_samples, n_features)"
            )
        n = int(array.shape[0])
        shape = tuple(int(d) for d in array.shape[1:])
        flat = array.reshape(n, -1)
        names = list(feature_names) if feature_names is not None else _index_names(shape)
        if len(names) != flat.shape[1]:
            raise InvalidDataError(
                f"{len(names)} feature names for {flat.shape[1]} features in {what}: give one name per feature"
            )
        if flat.dtype.kind in "biuf":
            numeric = flat.astype(np.float64)
            columns = [Column(names[j], "numeric", numeric[:, j]) for j in range(flat.shape[1])]
        else:
            columns = [_object_column(names[j], flat[:, j]) for j in range(flat.shape[1])]
    return CheckData(
        columns=columns,
        n_rows=n,
        labels=_optional(labels, n, "labels", what),
        predictions=_optional(predictions, n, "predictions", what),
        shape=shape,
    )


def _index_names(shape: tuple[int, ...]) -> list[str]:
    if len(shape) == 1:
        return [str(i) for i in range(shape[0])]
    return [",".join(map(str, idx)) for idx in np.ndindex(*shape)]


def _frame_column(name: str, series: Any) -> Column:
    kind = series.dtype.kind
    if kind in "iuf" or (kind == "O" and _all_numbers(series.to_numpy())):
        return Column(name, "numeric", np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), np.float64))
    return Column(name, "categorical", np.asarray([_plain(v) for v in series.to_numpy()], dtype=object))


def _object_column(name: str, values: npt.NDArray[Any]) -> Column:
    if _all_numbers(values):
        return Column(name, "numeric", np.asarray([np.nan if _is_missing(v) else float(v) for v in values]))
    return Column(name, "categorical", np.asarray([_plain(v) for v in values], dtype=object))


def _all_numbers(values: npt.NDArray[Any]) -> bool:
    present = [v for v in values if not _is_missing(v)]
    return bool(present) and all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in present
    )


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pandas.NA and NaT are not equal to themselves
    except (TypeError, ValueError):  # pandas.NA refuses bool()
        return True


def _plain(value: Any) -> Any:
    """NumPy scalars as Python ones, every missing value as None."""
    if _is_missing(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _optional(values: Any, n: int, name: str, what: str) -> npt.NDArray[Any] | None:
    if values is None:
        return None
    array = np.asarray(values, dtype=object).ravel()
    if len(array) != n:
        raise InvalidDataError(f"{what} has {n} samples but {len(array)} {name}: give one per sample")
    return np.asarray([_plain(v) for v in array], dtype=object)


def _json_number(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None
