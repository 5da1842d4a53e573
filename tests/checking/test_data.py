"""Data checks, scaling and batch files: bad data is refused with a message that says what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scanflow_jupyter.checking import Scaler, load_batch
from scanflow_jupyter.checking.data import as_ids, as_samples
from scanflow_jupyter.errors import (
    EmptyBatchError,
    InvalidDataError,
    NonFiniteValuesError,
    ShapeMismatchError,
)


@pytest.mark.parametrize(
    ("data", "shape", "error", "message"),
    [
        (np.zeros((0, 4)), None, EmptyBatchError, r"has no samples \(shape \(0, 4\)\).*skip empty batches"),
        ([], None, EmptyBatchError, "has no samples"),
        (np.zeros(5), None, InvalidDataError, r"1-D array of 5 values.*x.reshape\(-1, 1\)"),
        (3.0, None, InvalidDataError, "a single number"),
        ([["a", "b"]], None, InvalidDataError, "not numeric.*encoded or dropped"),
        (np.zeros((2, 2, 2, 2, 2)), None, InvalidDataError, r"samples of shape \(2, 2, 2, 2\)"),
        (np.zeros((3, 63)), (64,), ShapeMismatchError, r"shape \(63,\), but the detector was fitted on .*\(64,\)"),
        (np.zeros((3, 8, 8)), (64,), ShapeMismatchError, "same features"),
        (
            np.array([[0.0, np.nan], [1.0, 1.0], [np.inf, 0.0]]),
            None,
            NonFiniteValuesError,
            r"2 of 3 samples \(rows 0, 2\)",
        ),
    ],
)
def test_bad_data(data: Any, shape: tuple[int, ...] | None, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        as_samples(data, sample_shape=shape)


def test_non_finite_error_lists_rows_and_truncates_the_message() -> None:
    x = np.zeros((20, 3))
    x[::2, 1] = np.nan
    with pytest.raises(NonFiniteValuesError, match=r"rows 0, 2, 4, 6, 8, \.\.\.") as info:
        as_samples(x, what="the reference data", fix="drop or impute those samples before fitting")
    assert info.value.rows == list(range(0, 20, 2))
    assert "the reference data" in str(info.value) and "before fitting" in str(info.value)


def test_ids() -> None:
    assert as_ids(None, 3) == ["0", "1", "2"]
    assert as_ids(np.array([7, 8]), 2) == ["7", "8"]
    with pytest.raises(InvalidDataError, match="3 samples but 2 ids"):
        as_ids(["a", "b"], 3)


def test_scaler_handles_constant_features_and_clips() -> None:
    x = np.array([[0.0, 5.0, 1.0], [10.0, 5.0, 3.0]], dtype=np.float32)
    scaler = Scaler.fit(x, "minmax")
    scaled = scaler.transform(x)
    assert np.isfinite(scaled).all()
    assert scaled[:, 0].tolist() == [0.0, 1.0]
    far = scaler.transform(np.array([[1000.0, 6.0, -50.0]], dtype=np.float32))
    assert far.tolist() == [[1.25, 1.25, -0.25]]  # clipped to [-margin, 1 + margin]
    again = Scaler.from_dict(scaler.to_dict())
    assert again.kind == scaler.kind and again.margin == scaler.margin
    assert np.array_equal(again.transform(x), scaled)


def test_global_scaling_of_images_is_per_channel() -> None:
    x = np.zeros((4, 3, 3, 2), dtype=np.float32)
    x[..., 0] = 10.0 * np.arange(4)[:, None, None]
    x[..., 1] = np.arange(4)[:, None, None]
    scaler = Scaler.fit(x, "auto")
    assert scaler.kind == "global"
    assert scaler.transform(x)[-1].max() == pytest.approx(1.0)
    assert scaler.scale[..., 0].max() == pytest.approx(30.0) and scaler.scale[..., 1].max() == pytest.approx(3.0)


def test_load_npy_and_npz(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "b.npy", x)
    batch = load_batch(tmp_path / "b.npy")
    assert batch.x.shape == (4, 3) and batch.ids == ["0", "1", "2", "3"]
    np.savez(tmp_path / "b.npz", x=x, ids=np.array(["a", "b", "c", "d"]))
    assert load_batch(tmp_path / "b.npz").ids == ["a", "b", "c", "d"]
    np.savez(tmp_path / "single.npz", samples=x)
    assert load_batch(tmp_path / "single.npz").x.shape == (4, 3)


def test_load_csv_with_ids_and_names(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("id,height,weight\nx1,1.5,60\nx2,1.8,80\n")
    batch = load_batch(tmp_path / "b.csv")
    assert batch.ids == ["x1", "x2"] and batch.feature_names == ["height", "weight"]
    np.testing.assert_allclose(batch.x, [[1.5, 60.0], [1.8, 80.0]], rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("missing.npy", None, InvalidDataError, "does not exist: check the path"),
        ("b.txt", "1 2 3", InvalidDataError, "use a .npy, .npz or .csv file"),
        ("b.csv", "", EmptyBatchError, "empty file"),
        ("b.csv", "a,b\n", EmptyBatchError, "has no samples"),
        ("b.csv", "a,b\n1,x\n", InvalidDataError, "line 2: .*must be numeric"),
        ("b.csv", "a,b\n1\n", InvalidDataError, "line 2: 1 fields, the header has 2"),
        ("b.csv", "a,b\n1,\n", NonFiniteValuesError, "NaN or infinite"),
        ("two.npz", None, InvalidDataError, "name the samples array 'x'"),
    ],
)
def test_bad_batch_files(tmp_path: Path, name: str, content: str | None, error: type[Exception], message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    if name == "two.npz":
        np.savez(path, a=np.zeros((2, 2)), b=np.zeros((2, 2)))
    with pytest.raises(error, match=message):
        load_batch(path)
