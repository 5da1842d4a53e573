"""Checking data before a detector sees it, scaling it, and reading batch files.

Every check raises an :class:`~scanflow_jupyter.errors.InvalidDataError` subclass whose message names the
problem and the fix, so bad data never reaches TensorFlow (where it would surface as a NaN loss or a shape
error deep in a graph).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..errors import EmptyBatchError, InvalidDataError, NonFiniteValuesError, ShapeMismatchError

__all__ = ["Batch", "Scaler", "as_ids", "as_samples", "load_batch", "save_npz"]

FloatArray = npt.NDArray[np.float32]
ScalingName = Literal["auto", "minmax", "global", "none"]

_MAX_ROWS_NAMED = 5
MARGIN = 0.25


def as_samples(
    data: Any, *, what: str = "the batch", sample_shape: tuple[int, ...] | None = None, fix: str = ""
) -> FloatArray:
    """``data`` as a float32 array of samples (first axis), after checking it.

    Parameters
    ----------
    data
        An array-like of shape ``(n_samples, *sample_shape)``.
    what
        How messages name the data ("the reference data", "the batch").
    sample_shape
        When given, the shape every sample must have (the reference's), else any shape of one to three axes.
    fix
        What a user should do about NaN or infinite values (appended to that message).

    Example
    -------
    >>> as_samples([[0.0, 1.0], [2.0, 3.0]]).shape
    (2, 2)
    """
    try:
        array = np.asarray(data)
        # float32 straight away: the network computes in float32, and a float64 copy of a large batch costs more
        # than scoring it.
        array = array.astype(np.float32, copy=False)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(
            f"{what} is not numeric ({exc}): give an array of numbers of shape (n_samples, ...), "
            "with text columns encoded or dropped"
        ) from None
    if array.ndim == 0:
        raise InvalidDataError(f"{what} is a single number: give an array of shape (n_samples, n_features)")
    if array.shape[0] == 0:
        raise EmptyBatchError(
            f"{what} has no samples (shape {array.shape}): there is nothing to score; "
            "skip empty batches, or wait until samples have arrived"
        )
    if array.ndim == 1:
        raise InvalidDataError(
            f"{what} is a 1-D array of {array.shape[0]} values: give shape (n_samples, n_features); "
            "use x.reshape(-1, 1) for one feature or x.reshape(1, -1) for one sample"
        )
    shape = tuple(int(n) for n in array.shape[1:])
    if sample_shape is not None and shape != tuple(sample_shape):
        raise ShapeMismatchError(
            f"{what} has samples of shape {shape}, but the detector was fitted on samples of shape "
            f"{tuple(sample_shape)}: give it the same features (or image size), in the same order"
        )
    if sample_shape is None and len(shape) > 3:
        raise InvalidDataError(
            f"{what} has samples of shape {shape}: a detector takes vectors (n_features,) or images "
            "(height, width) or (height, width, channels)"
        )
    if not np.isfinite(array).all():
        finite = np.isfinite(array.reshape(array.shape[0], -1)).all(axis=1)
        rows = [int(i) for i in np.flatnonzero(~finite)]
        named = ", ".join(map(str, rows[:_MAX_ROWS_NAMED])) + (", ..." if len(rows) > _MAX_ROWS_NAMED else "")
        raise NonFiniteValuesError(
            f"{what} has NaN or infinite values in {len(rows)} of {array.shape[0]} samples (rows {named}): "
            + (fix or "drop or impute those samples first"),
            rows,
        )
    return array


def as_ids(ids: Sequence[Any] | npt.NDArray[Any] | None, n: int, *, what: str = "the batch") -> list[str]:
    """Sample ids as strings: the given ones (one per sample) or the row numbers ``"0"``, ``"1"``, ..."""
    if ids is None:
        return [str(i) for i in range(n)]
    out = [str(i) for i in ids]
    if len(out) != n:
        raise InvalidDataError(f"{what} has {n} samples but {len(out)} ids: give exactly one id per sample")
    return out


@dataclass(frozen=True)
class Scaler:
    """An affine map fitted on reference data: ``(x - offset) / scale``, elementwise over a sample.

    ``minmax`` maps each feature's reference range onto [0, 1]; ``global`` maps the whole reference range (one
    pair per channel for images) onto [0, 1]; ``none`` leaves data as it is. Ranges narrower than ``floor`` times
    the widest one are widened to it, so a feature that is constant in the reference does not divide by zero.

    Scaled values are clipped to ``[-margin, 1 + margin]``: a value outside the reference range still costs
    reconstruction error (up to ``(1 + margin) ** 2`` per feature), but one feature far outside it cannot drown
    the others, nor can a feature that was constant in a small reference set.
    """

    kind: str
    offset: FloatArray
    scale: FloatArray
    margin: float | None = None

    @property
    def unit_range(self) -> bool:
        """Whether scaled reference data lies in [0, 1] (so a sigmoid output layer fits it)."""
        return self.kind != "none"

    @classmethod
    def fit(cls, x: FloatArray, kind: ScalingName = "auto", floor: float = 1e-3, margin: float = MARGIN) -> Scaler:
        sample_shape = x.shape[1:]
        if kind == "auto":
            kind = "global" if len(sample_shape) >= 2 else "minmax"
        if kind == "none":
            return cls("none", np.zeros(sample_shape, np.float32), np.ones(sample_shape, np.float32))
        if kind == "minmax":
            low, high = x.min(axis=0), x.max(axis=0)
        elif kind == "global":
            # Images: one range per channel, so a pixel that is always dark does not get its own scale.
            axes = (0, 1, 2) if len(sample_shape) == 3 else tuple(range(x.ndim))
            low = np.broadcast_to(x.min(axis=axes, keepdims=True)[0], sample_shape)
            high = np.broadcast_to(x.max(axis=axes, keepdims=True)[0], sample_shape)
        else:
            raise InvalidDataError(f"unknown scaling {kind!r}: use 'auto', 'minmax', 'global' or 'none'")
        width = high - low
        widest = float(width.max()) or 1.0
        scale = np.maximum(width, floor * widest)
        return cls(kind, low.astype(np.float32), scale.astype(np.float32), margin)

    @property
    def inverse(self) -> FloatArray:
        """``1 / scale``: scaling multiplies, in NumPy and in the compiled scoring graph alike."""
        return (np.float32(1.0) / self.scale).astype(np.float32)

    def transform(self, x: FloatArray) -> FloatArray:
        scaled = (x.astype(np.float32, copy=False) - self.offset) * self.inverse
        if self.margin is not None:
            scaled = np.clip(scaled, -self.margin, 1.0 + self.margin)
        return scaled.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "offset": self.offset.tolist(), "scale": self.scale.tolist(), "margin": self.margin}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaler:
        return cls(
            str(data["kind"]),
            np.asarray(data["offset"], np.float32),
            np.asarray(data["scale"], np.float32),
            data.get("margin"),
        )


@dataclass(frozen=True)
class Batch:
    """Samples read from a batch file, with their ids, (for CSV) feature names, and (from ``.npz`` arrays
    ``labels`` and ``predictions``, or CSV columns of those names) the classes the integrity checks' label and
    prior shift tests read."""

    x: FloatArray
    ids: list[str]
    feature_names: list[str] | None = None
    labels: list[Any] | None = None
    predictions: list[Any] | None = None


def load_batch(path: str | os.PathLike[str], *, id_column: str = "id") -> Batch:
    """Read a batch file: ``.npy`` (an array), ``.npz`` (arrays ``x`` and optionally ``ids``, ``labels``,
    ``predictions``) or ``.csv``.

    A CSV file has a header row; its ``id_column`` (when present) holds the sample ids, columns ``labels`` and
    ``predictions`` (when present) the classes, and every other column is a numeric feature. Without ids, samples
    are named by their row number.

    Example
    -------
    >>> batch = load_batch("batch.npz")         # doctest: +SKIP
    >>> batch.x.shape, batch.ids[:2]            # doctest: +SKIP
    ((200, 64), ['0', '1'])
    """
    file = Path(path)
    if not file.is_file():
        raise InvalidDataError(f"batch file {str(file)!r} does not exist: check the path (relative to {os.getcwd()})")
    suffix = file.suffix.lower()
    what = f"the batch in {file.name}"
    if suffix == ".npy":
        x = as_samples(np.load(file, allow_pickle=False), what=what)
        return Batch(x, as_ids(None, len(x)))
    if suffix == ".npz":
        with np.load(file, allow_pickle=False) as archive:
            names = list(archive.files)
            others = [n for n in names if n not in _SIDE_ARRAYS]
            if "x" in names:
                key = "x"
            elif len(others) == 1:
                key = others[0]
            else:
                raise InvalidDataError(f"{what} holds arrays {names}: name the samples array 'x' (and the ids 'ids')")
            x = as_samples(archive[key], what=what)
            ids = archive["ids"].tolist() if "ids" in names else None
            side = {
                n: _per_sample(archive[n].tolist(), len(x), n, what) for n in ("labels", "predictions") if n in names
            }
        return Batch(x, as_ids(ids, len(x), what=what), None, side.get("labels"), side.get("predictions"))
    if suffix == ".csv":
        return _load_csv(file, id_column, what)
    raise InvalidDataError(f"cannot read batch file {file.name!r}: use a .npy, .npz or .csv file")


def save_npz(path: str | os.PathLike[str], **arrays: Any) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` so that a reader sees the old file or the new one, never half
    of one: into a temporary file of a unique name in the same folder (two writers never share one), flushed to
    disk, then renamed over ``path``. Returns ``path``.

    Example
    -------
    >>> save_npz("work/labeled.npz", x=x, y=y, ids=np.array(ids))       # doctest: +SKIP
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # the rename itself survives a crash of the machine once the folder is on disk
        folder = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return target
    try:
        os.fsync(folder)
    except OSError:
        pass  # some file systems cannot sync a folder; the file itself is on disk
    finally:
        os.close(folder)
    return target


_SIDE_ARRAYS = ("ids", "labels", "predictions")


def _per_sample(values: list[Any], n: int, name: str, what: str) -> list[Any]:
    if len(values) != n:
        raise InvalidDataError(f"{what} has {n} samples but {len(values)} {name}: give exactly one per sample")
    return values


def _load_csv(file: Path, id_column: str, what: str) -> Batch:
    with file.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        rows = [row for row in reader if row]
    if header is None:
        raise EmptyBatchError(f"{what} is an empty file: there is nothing to score; write a header row and samples")
    id_at = header.index(id_column) if id_column in header else None
    side_at = {name: header.index(name) for name in ("labels", "predictions") if name in header}
    skip = {i for i in (id_at, *side_at.values()) if i is not None}
    features = [name for i, name in enumerate(header) if i not in skip]
    ids = [row[id_at] for row in rows] if id_at is not None else None
    values: list[list[float]] = []
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise InvalidDataError(f"{what}, line {line}: {len(row)} fields, the header has {len(header)}")
        try:
            values.append([float(v) if v.strip() else float("nan") for i, v in enumerate(row) if i not in skip])
        except ValueError as exc:
            raise InvalidDataError(
                f"{what}, line {line}: {exc}; every column but {id_column!r} must be numeric"
            ) from None
    x = as_samples(np.asarray(values, np.float64).reshape(len(values), len(features)), what=what)
    side = {name: [row[at] for row in rows] for name, at in side_at.items()}
    return Batch(x, as_ids(ids, len(x), what=what), features, side.get("labels"), side.get("predictions"))
