"""Bounded artifact previews: the size comes from the listing before anything is downloaded; a folder is listed,
never downloaded; a file over the limit (or of unknown size) is not downloaded and the message says how to get it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.errors import RunQueryError
from scanflow_jupyter.tracking import RunStore, queries


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> tuple[str, str]:
    """A run with a small text file, a 4 KB log, a 3 KB image, and a folder ``data/`` with a nested file."""
    from mlflow.tracking import MlflowClient

    from .runstores import png

    folder = tmp_path_factory.mktemp("previews")
    shutil.copy(mlflow_template, folder / "mlflow.db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.create_experiment("previews", artifact_location=(folder / "art").as_uri())
    run_id = client.create_run(exp).info.run_id
    files = folder / "files"
    (files / "data" / "deep").mkdir(parents=True)
    (files / "small.txt").write_text("hello\n")
    (files / "big.log").write_text("x" * 4096)
    (files / "plot.png").write_bytes(png(32, 32) + b"\0" * 3000)
    (files / "data" / "inner.csv").write_text("a,b\n1,2\n")
    (files / "data" / "deep" / "leaf.txt").write_text("leaf")
    for name in ("small.txt", "big.log", "plot.png"):
        client.log_artifact(run_id, str(files / name))
    client.log_artifacts(run_id, str(files / "data"), "data")
    return uri, run_id


@pytest.fixture
def store(run: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[RunStore, list[str]]:
    """The store, its downloads recorded, and limits of 2 KB (so the test files are "large")."""
    monkeypatch.setattr(queries, "DOWNLOAD_LIMIT", 2048)
    monkeypatch.setattr(queries, "IMAGE_LIMIT", 2048)
    store = RunStore(run[0])
    downloads: list[str] = []
    real = store.client.download_artifacts

    def download(run_id: str, path: str, dst: str | None = None) -> str:
        downloads.append(path)
        return str(real(run_id, path, dst))

    monkeypatch.setattr(store.client, "download_artifacts", download)
    return store, downloads


def test_small_files_and_nested_ones_preview(store: tuple[RunStore, list[str]], run: tuple[str, str]) -> None:
    reader, downloads = store
    assert reader.preview(run[1], "small.txt")["text"] == "hello\n"
    assert reader.preview(run[1], "data/inner.csv")["rows"] == [["a", "b"], ["1", "2"]]
    assert reader.preview(run[1], "data/deep/leaf.txt")["text"] == "leaf"
    assert downloads == ["small.txt", "data/inner.csv", "data/deep/leaf.txt"]


def test_a_folder_is_listed_not_downloaded(store: tuple[RunStore, list[str]], run: tuple[str, str]) -> None:
    reader, downloads = store
    shown = reader.preview(run[1], "data")
    assert shown["kind"] == "dir"
    assert {(e["path"], e["is_dir"]) for e in shown["entries"]} == {("data/deep", True), ("data/inner.csv", False)}
    assert reader.preview(run[1], "data/deep")["kind"] == "dir"
    assert downloads == []


@pytest.mark.parametrize(("path", "size"), [("big.log", "4 KB"), ("plot.png", "3 KB")])
def test_a_large_file_is_not_downloaded(
    store: tuple[RunStore, list[str]], run: tuple[str, str], path: str, size: str
) -> None:
    reader, downloads = store
    shown = reader.preview(run[1], path)
    assert shown["kind"] == "too_large" and shown["size"] > 2048
    assert shown["message"].startswith(f"{path} is too large to preview ({size}; a preview downloads at most 2 KB)")
    assert f"download it with mlflow artifacts download --run-id {run[1]} --artifact-path {path}" in shown["message"]
    assert downloads == []


def test_the_message_gives_sizes_in_units_that_fit() -> None:
    message = queries.too_large("r1", "logs/a b.txt", 40 * 1024 * 1024, 16 * 1024 * 1024)
    assert message == (
        "logs/a b.txt is too large to preview (40 MB; a preview downloads at most 16 MB); download it with "
        "mlflow artifacts download --run-id r1 --artifact-path 'logs/a b.txt' (MLFLOW_TRACKING_URI: this store)."
    )


def test_a_file_of_unknown_size_is_not_downloaded(
    store: tuple[RunStore, list[str]], run: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some artifact stores list files without a size: nothing says the download would be small."""
    from mlflow.entities import FileInfo

    reader, downloads = store
    real = reader.client.list_artifacts

    def sizeless(run_id: str, path: str | None = None) -> list[Any]:
        return [FileInfo(f.path, f.is_dir, None) for f in real(run_id, path)]

    monkeypatch.setattr(reader.client, "list_artifacts", sizeless)
    shown = reader.preview(run[1], "small.txt")
    assert shown["kind"] == "too_large" and shown["size"] is None
    assert "its artifact store does not say how big it is" in shown["message"]
    assert downloads == []


def test_a_missing_artifact_is_named(store: tuple[RunStore, list[str]], run: tuple[str, str]) -> None:
    reader, downloads = store
    with pytest.raises(RunQueryError, match=r"has no artifact 'data/nope.txt'; pick one from the artifact list"):
        reader.preview(run[1], "data/nope.txt")
    assert downloads == []
