"""The server extension over HTTP: every route refuses a request without a token and a path outside the root,
and does its job; runs started through it outlive the request and report their events."""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import ECHO_STEP
from .conftest import Server

pytestmark = pytest.mark.slow

GET_ROUTES = ["apps", "app", "run", "events", "logs"]
POST_ROUTES = ["document", "compose", "validate", "stubs", "new", "start", "resume", "cancel"]


def write_app(root: Path, rel: str, nodes: list[dict[str, Any]] | None = None, name: str = "demo") -> Path:
    folder = root / rel
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "step.py").write_text(ECHO_STEP)
    nodes = nodes or [
        {"name": "prep", "script": "step.py"},
        {"name": "train", "script": "step.py", "depends_on": ["prep"], "parameters": {"sleep": 0}},
    ]
    spec = {"scanflow": 1, "name": name, "workflows": [{"name": "main", "nodes": nodes}]}
    (folder / "scanflow.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


def q(**params: str) -> str:
    return "?" + urllib.parse.urlencode(params)


@pytest.mark.parametrize("route", GET_ROUTES)
def test_get_without_a_token_is_refused(server: Server, route: str) -> None:
    write_app(server.root, "apps/a")
    answer = server.get(f"/scanflow/api/{route}{q(path='apps/a', run='x', node='prep')}", token=None)
    assert answer.status == 403


@pytest.mark.parametrize("route", POST_ROUTES)
def test_post_without_a_token_is_refused(server: Server, route: str) -> None:
    answer = server.post(f"/scanflow/api/{route}", {"path": "apps/a", "run": "x"}, token=None)
    assert answer.status == 403


@pytest.mark.parametrize("route", POST_ROUTES)
def test_post_with_a_wrong_token_is_refused(server: Server, route: str) -> None:
    answer = server.post(f"/scanflow/api/{route}", {"path": "apps/a"}, token="not-the-token")
    assert answer.status == 403


@pytest.mark.parametrize("path", ["..", "../outside", "/etc", "apps/../../outside", "link-out"])
@pytest.mark.parametrize("route", GET_ROUTES)
def test_get_outside_the_root_is_refused(server: Server, route: str, path: str) -> None:
    outside = server.root.parent / "outside"
    write_app(server.root.parent, "outside")
    link = server.root / "link-out"
    if not link.exists():
        link.symlink_to(outside)
    answer = server.get(f"/scanflow/api/{route}{q(path=path, run='x', node='prep')}")
    assert answer.status == 403, answer.text
    assert "outside the server's root" in answer.data["message"] or "not relative" in answer.data["message"]


@pytest.mark.parametrize("route", POST_ROUTES)
def test_post_outside_the_root_is_refused(server: Server, route: str) -> None:
    body = {"path": "../outside", "run": "x", "text": "scanflow: 1\nname: x\n", "message": {}, "scripts": []}
    answer = server.post(f"/scanflow/api/{route}", body)
    assert answer.status == 403, answer.text
    assert not (server.root.parent / "outside" / "steps").exists()


def test_apps_lists_applications_under_the_root(server: Server) -> None:
    write_app(server.root, "listing/one", name="one")
    write_app(server.root, "listing/deeper/two", name="two")
    (server.root / "listing" / "broken").mkdir(parents=True, exist_ok=True)
    (server.root / "listing" / "broken" / "scanflow.yaml").write_text("scanflow: 1\nname: [\n")
    (server.root / "listing" / ".hidden" / "x").mkdir(parents=True, exist_ok=True)
    (server.root / "listing" / ".hidden" / "x" / "scanflow.yaml").write_text("scanflow: 1\n")
    answer = server.get(f"/scanflow/api/apps{q(path='listing')}")
    assert answer.status == 200
    apps = {a["path"]: a for a in answer.data["apps"]}
    assert list(apps) == ["listing/broken", "listing/deeper/two", "listing/one"]
    assert apps["listing/one"]["name"] == "one"
    assert apps["listing/one"]["workflows"] == [{"name": "main", "kind": "batch", "steps": 2}]
    assert "not valid YAML" in apps["listing/broken"]["error"]


def test_document_compose_and_validate(server: Server) -> None:
    folder = write_app(server.root, "doc/a")
    text = (folder / "scanflow.yaml").read_text()
    doc = server.post("/scanflow/api/document", {"path": "doc/a/scanflow.yaml"})
    assert doc.status == 200
    assert [n["name"] for n in doc.data["spec"]["root"]["nodes"]] == ["prep", "train"]
    assert doc.data["problems"] == []

    added = server.post(
        "/scanflow/api/compose",
        {"path": "doc/a", "text": text, "workflow": "main", "message": {"event": "add", "group": "", "name": "eval"}},
    )
    assert added.status == 200, added.text
    assert "steps/eval.py" in added.data["text"]
    assert (folder / "scanflow.yaml").read_text() == text  # nothing is written: the editor saves
    assert {"where": "eval", "message": added.data["problems"][0]["message"]} == added.data["problems"][0]

    cycle = server.post(
        "/scanflow/api/compose",
        {"path": "doc/a", "text": text, "message": {"event": "connect", "source": "train", "target": "prep"}},
    )
    assert cycle.status == 400
    assert "cycle" in cycle.data["message"]

    param = server.post(
        "/scanflow/api/compose",
        {
            "path": "doc/a",
            "text": text,
            "message": {"event": "set_param", "address": "train", "name": "epochs", "value": "5", "type": "int"},
        },
    )
    assert param.status == 200
    assert "epochs: 5" in param.data["text"]

    retries = server.post(
        "/scanflow/api/compose",
        {
            "path": "doc/a",
            "text": text,
            "message": {"event": "set_field", "address": "train", "field": "retries", "value": "2"},
        },
    )
    assert "retries: 2" in retries.data["text"]

    bad = server.post("/scanflow/api/validate", {"path": "doc/a", "text": added.data["text"]})
    assert bad.status == 200
    assert [p["where"] for p in bad.data["problems"]] == ["main/eval"] or "eval" in bad.data["problems"][0]["where"]

    stubs = server.post(
        "/scanflow/api/stubs", {"path": "doc/a", "text": added.data["text"], "scripts": ["steps/eval.py"]}
    )
    assert stubs.data == {"written": ["steps/eval.py"]}
    assert "argparse" in (folder / "steps" / "eval.py").read_text()


def test_a_malformed_message_is_a_400(server: Server) -> None:
    folder = write_app(server.root, "doc/b")
    text = (folder / "scanflow.yaml").read_text()
    answer = server.post("/scanflow/api/compose", {"path": "doc/b", "text": text, "message": {"event": "explode"}})
    assert answer.status == 400
    assert "unknown composer message 'explode'" in answer.data["message"]


def test_new_application(server: Server) -> None:
    answer = server.post("/scanflow/api/new", {"path": "made/first", "name": "first"})
    assert answer.status == 201, answer.text
    assert answer.data == {"path": "made/first", "spec": "made/first/scanflow.yaml"}
    assert (server.root / "made/first/steps/hello.py").is_file()
    again = server.post("/scanflow/api/new", {"path": "made/first", "name": "first"})
    assert again.status == 400
    assert "already there" in again.data["message"]


def test_start_a_run_and_follow_its_events(server: Server) -> None:
    folder = write_app(server.root, "runs/ok")
    started = server.post("/scanflow/api/start", {"path": "runs/ok", "workflow": "main"})
    assert started.status == 202, started.text
    run_id = started.data["run_id"]
    events = server.events(f"/scanflow/api/events{q(path='runs/ok', run=run_id)}", lambda e, d: e == "end")
    assert events[-1] == ("end", {"run_id": run_id, "status": "succeeded"})
    states = [d for e, d in events if e == "state"]
    assert states[-1]["nodes"]["train"]["state"] == "succeeded"

    run = server.get(f"/scanflow/api/run{q(path='runs/ok', run=run_id)}")
    assert run.data["status"] == "succeeded"
    listed = server.get(f"/scanflow/api/app{q(path='runs/ok')}")
    assert listed.data["runs"][0]["run_id"] == run_id
    assert listed.data["runs"][0]["counts"] == {"succeeded": 2}
    logs = server.get(f"/scanflow/api/logs{q(path='runs/ok', run=run_id, node='train', stream='stdout')}")
    assert "done train" in logs.data["text"]
    assert (folder / "out" / "train.json").is_file()


def test_cancel_a_running_run_then_resume_it(server: Server) -> None:
    write_app(
        server.root,
        "runs/slow",
        nodes=[
            {"name": "wait", "script": "step.py", "parameters": {"sleep": 60}},
            {"name": "after", "script": "step.py", "depends_on": ["wait"]},
        ],
    )
    run_id = server.post("/scanflow/api/start", {"path": "runs/slow", "workflow": "main"}).data["run_id"]
    route = f"/scanflow/api/events{q(path='runs/slow', run=run_id)}"
    server.events(route, lambda e, d: e == "state" and d["nodes"].get("wait", {}).get("state") == "running")
    cancelled = server.post("/scanflow/api/cancel", {"path": "runs/slow", "run": run_id})
    assert cancelled.data == {"cancelled": True}
    events = server.events(route, lambda e, d: e == "end")
    assert events[-1][1]["status"] == "cancelled"

    # Resuming runs the cancelled steps again (with a short sleep this time: the run is edited in place).
    spec = server.root / "runs/slow/scanflow.yaml"
    spec.write_text(spec.read_text().replace("sleep: 60", "sleep: 0"))
    resumed = server.post("/scanflow/api/resume", {"path": "runs/slow", "run": run_id})
    assert resumed.status == 202, resumed.text
    events = server.events(route, lambda e, d: e == "end")
    assert events[-1][1]["status"] == "succeeded"
    again = server.post("/scanflow/api/resume", {"path": "runs/slow", "run": run_id})
    assert again.status == 409
    assert "already succeeded" in again.data["message"]


def test_an_unknown_run_is_a_404(server: Server) -> None:
    write_app(server.root, "runs/none")
    answer = server.get(f"/scanflow/api/run{q(path='runs/none', run='20260101-000000-abcdef')}")
    assert answer.status == 404
    assert "no runs yet" in answer.data["message"]
    sneaky = server.get(f"/scanflow/api/run{q(path='runs/none', run='../../x')}")
    assert sneaky.status == 404


def test_a_start_of_an_invalid_application_lists_its_problems(server: Server) -> None:
    folder = write_app(server.root, "runs/bad", nodes=[{"name": "x", "script": "missing.py"}])
    answer = server.post("/scanflow/api/start", {"path": "runs/bad"})
    assert answer.status == 400
    assert "missing.py" in answer.data["message"]
    assert not (folder / ".scanflow" / "runs").exists()
    shutil.rmtree(folder)
