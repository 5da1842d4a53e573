"""The scanflow command: output, exit codes, and clear errors with no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanflow_jupyter.cli import main

from .conftest import ROOT


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def step(name: str, *after: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "script": "step.py", **({"depends_on": list(after)} if after else {}), **extra}


def test_validate_ok() -> None:
    result = invoke("validate", str(ROOT / "examples" / "tabular"))
    assert result.exit_code == 0
    assert "tabular: valid (1 workflow(s), 5 step(s))" in result.output


def test_validate_lists_every_problem(make_app: Callable[..., Any]) -> None:
    app = make_app([step("Bad_Name"), step("b", "zzz")])
    result = invoke("validate", str(app.folder))
    assert result.exit_code == 2
    assert "error: 2 problems in application 'demo'" in result.output
    assert "Traceback" not in result.output


def test_plot_prints_dot_and_writes_files(tmp_path: Path) -> None:
    result = invoke("plot", str(ROOT / "examples" / "tabular"))
    assert result.exit_code == 0 and result.output.startswith("digraph pipeline {")
    out = tmp_path / "g.dot"
    assert invoke("plot", str(ROOT / "examples" / "tabular"), "-o", str(out)).exit_code == 0
    assert "cluster/modeling" in out.read_text()


def test_run_status_runs_and_resume(make_app: Callable[..., Any]) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"fail": False})])
    folder = str(app.folder)
    ok = invoke("run", folder, "--no-tracking")
    assert ok.exit_code == 0, ok.output
    assert "✓ a succeeded" in ok.output and "succeeded in" in ok.output

    failed = invoke("run", folder, "--no-tracking", "-p", "b.fail=true")
    assert failed.exit_code == 1
    assert "error: Step 'b' exited with code 3" in failed.output
    assert "something went wrong in the step" in failed.output

    status = invoke("status", folder)
    assert status.exit_code == 0
    assert "failed" in status.output and "resume it with: scanflow resume" in status.output
    as_json = json.loads(invoke("status", folder, "--json").output)
    assert as_json["nodes"]["b"]["state"] == "failed"

    listing = invoke("runs", folder)
    assert listing.output.count("\n") == 2 and "failed" in listing.output.splitlines()[0]

    still_failing = invoke("resume", folder)
    assert still_failing.exit_code == 1  # the override is part of the run, so b fails again


@pytest.mark.parametrize(
    "args,message",
    [
        (["run", "{app}", "-p", "b.x"], "is not of the form STEP.NAME=VALUE"),
        (["run", "{app}", "-p", "nope.x=1"], "no step 'nope'"),
        (["run", "{app}", "-w", "other"], "no workflow named 'other'; choose one of: main"),
        (["status", "{app}", "nope"], "No run 'nope'"),
        (["resume", "{app}"], "no failed or interrupted run"),
        (["run", "{missing}"], "no such file"),
    ],
    ids=["malformed --param", "unknown step", "unknown workflow", "unknown run", "nothing to resume", "no app"],
)
def test_bad_input_exits_2_without_traceback(
    make_app: Callable[..., Any], tmp_path: Path, args: list[str], message: str
) -> None:
    app = make_app([step("a"), step("b", "a", parameters={"x": 1})])
    filled = [a.format(app=app.folder, missing=tmp_path / "missing") for a in args]
    result = invoke(*filled)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_export_targets(tmp_path: Path) -> None:
    example = str(ROOT / "examples" / "tabular")
    assert invoke("export", example).output == (ROOT / "examples" / "tabular" / "scanflow.yaml").read_text()
    assert json.loads(invoke("export", example, "--to", "json").output)["name"] == "tabular"
    schema = json.loads(invoke("export", example, "--to", "schema").output)
    assert schema["$id"].endswith("scanflow.v1.schema.json")
    out = tmp_path / "g.dot"
    invoke("export", example, "--to", "dot", "-o", str(out))
    assert out.read_text().startswith("digraph")


def test_console_script_runs_as_a_program() -> None:
    proc = subprocess.run([sys.executable, "-m", "scanflow_jupyter.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("scanflow, version ")
