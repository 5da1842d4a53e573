"""The server's services without a server: paths confined to the root, the applications listing, the editor's
edits on spec text, a new application."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanflow_jupyter.errors import PathOutsideRootError, WorkflowValidationError
from scanflow_jupyter.server.apps import MAX_DEPTH, find_application_folders, list_applications
from scanflow_jupyter.server.compose import MessageError, apply_message, new_application, read
from scanflow_jupyter.server.paths import app_folder, confine

SPEC = """scanflow: 1
name: demo
workflows:
- name: main
  nodes:
  - name: prep
    script: step.py
  - name: train
    script: step.py
    depends_on:
    - prep
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


@pytest.mark.parametrize("path", ["..", "../x", "/etc/passwd", "a/../../x", "a\\..\\x", "a\0b"])
def test_confine_refuses_paths_out_of_the_root(root: Path, path: str) -> None:
    with pytest.raises(PathOutsideRootError, match="root"):
        confine(root, path)


def test_confine_refuses_a_symlink_out(root: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PathOutsideRootError, match="leads outside the server's root folder"):
        confine(root, "link/scanflow.yaml")


def test_confine_keeps_paths_inside(root: Path) -> None:
    assert confine(root, "") == root.resolve()
    assert confine(root, "a/../b") == (root / "b").resolve()
    assert app_folder(root, "apps/x/scanflow.yaml") == (root / "apps/x").resolve()


def test_the_walk_is_bounded_and_skips_hidden_and_environment_folders(root: Path) -> None:
    for rel in [
        "a",
        "b/c",
        ".hidden/d",
        "node_modules/e",
        "a/inner",
        "x/" + "/".join("deep" for _ in range(MAX_DEPTH)),
    ]:
        (root / rel).mkdir(parents=True, exist_ok=True)
        (root / rel / "scanflow.yaml").write_text(SPEC)
    found = [p.relative_to(root).as_posix() for p in find_application_folders(root)]
    assert found == ["a", "b/c"]  # not inside an application, not hidden, not in node_modules, not too deep
    assert len(find_application_folders(root, limit=1)) == 1


def test_listing_reports_an_unreadable_spec(root: Path) -> None:
    (root / "bad").mkdir()
    (root / "bad" / "scanflow.yaml").write_text("scanflow: 7\nname: bad\n")
    [summary] = list_applications(root)
    assert summary["path"] == "bad"
    assert "unknown schema version 7" in summary["error"]


def test_read_describes_the_text(root: Path) -> None:
    doc = read(SPEC, root)
    assert doc["workflows"] == ["main"]
    assert [p["where"] for p in doc["problems"]] == ["prep", "train"]  # step.py is missing: marked on the nodes
    train: dict[str, Any] = doc["spec"]["root"]["nodes"][1]
    assert train["retries"] == 0 and train["timeout"] is None and train["resources"]["gpu"] == 0


def test_edits_apply_to_the_text(root: Path) -> None:
    doc = apply_message(SPEC, "main", {"event": "add", "group": "", "name": "eval", "kind": "script"}, root)
    assert "name: eval" in doc["text"]
    doc = apply_message(doc["text"], "main", {"event": "connect", "source": "train", "target": "eval"}, root)
    doc = apply_message(
        doc["text"], "main", {"event": "set_field", "address": "eval", "field": "timeout", "value": "30"}, root
    )
    doc = apply_message(
        doc["text"],
        "main",
        {"event": "set_field", "address": "eval", "field": "resources.memory", "value": "1Gi"},
        root,
    )
    doc = apply_message(
        doc["text"],
        "main",
        {"event": "set_field", "address": "eval", "field": "requirements", "value": "numpy, pandas"},
        root,
    )
    eval_node = doc["spec"]["root"]["nodes"][2]
    assert eval_node["depends_on"] == ["train"]
    assert eval_node["timeout"] == 30
    assert eval_node["resources"]["memory"] == "1Gi"
    assert eval_node["requirements"] == ["numpy", "pandas"]


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ({"event": "connect", "source": "train", "target": "prep"}, "cycle"),
        ({"event": "add", "group": "", "name": "prep"}, "two nodes are named 'prep'"),
        ({"event": "set_field", "address": "prep", "field": "retries", "value": "-1"}, "prep.retries"),
        ({"event": "set_field", "address": "prep", "field": "colour", "value": "red"}, "unknown field 'colour'"),
    ],
)
def test_refused_edits_say_why(root: Path, message: dict[str, Any], match: str) -> None:
    with pytest.raises(WorkflowValidationError, match=match):
        apply_message(SPEC, "main", message, root)


def test_malformed_messages(root: Path) -> None:
    with pytest.raises(MessageError, match="unknown composer message"):
        apply_message(SPEC, "main", {"event": "nope"}, root)
    with pytest.raises(MessageError, match="has no 'source' text"):
        apply_message(SPEC, "main", {"event": "connect", "target": "prep"}, root)


def test_new_application_runs_as_made(root: Path) -> None:
    spec = new_application(root / "fresh", "fresh")
    assert read(spec.read_text(), spec.parent)["problems"] == []
    with pytest.raises(WorkflowValidationError, match="already there"):
        new_application(root / "fresh", "fresh")
    with pytest.raises(WorkflowValidationError, match="Bad_Name"):
        new_application(root / "bad", "Bad_Name")
    assert not (root / "bad").exists()
