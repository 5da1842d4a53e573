"""The step launcher: a script runs as `python script.py` would, after the run id arrives on its pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scanflow_jupyter.engine.launch import EXIT_NO_RUN, LAUNCHER

PROBE = """
import json, os, sys
import helper  # a sibling module: sys.path[0] must be the script's folder
print(json.dumps({"name": __name__, "file": __file__, "argv": sys.argv, "path0": sys.path[0],
                  "run_id": os.environ.get("MLFLOW_RUN_ID"), "fd": os.environ.get("SCANFLOW_RUN_ID_FD"),
                  "helper": helper.VALUE}))
if __name__ == "__main__":
    sys.exit(int(sys.argv[-1]))
"""


def _launch(tmp_path: Path, run_id: bytes | None, code: str = "0") -> subprocess.CompletedProcess[str]:
    sub = tmp_path / "steps"
    sub.mkdir(exist_ok=True)
    (sub / "probe.py").write_text(PROBE)
    (sub / "helper.py").write_text("VALUE = 42\n")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_RUN_ID"}
    fds: tuple[int, ...] = ()
    if run_id is not None:
        r, w = os.pipe()
        env["SCANFLOW_RUN_ID_FD"] = str(r)
        fds = (r,)
    proc = subprocess.Popen(
        [sys.executable, LAUNCHER, "script", "steps/probe.py", "--x", code],
        cwd=tmp_path,
        env=env,
        pass_fds=fds,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if run_id is not None:
        os.close(r)
        os.write(w, run_id)
        os.close(w)
    out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_script_sees_what_python_script_py_gives_it(tmp_path: Path) -> None:
    done = _launch(tmp_path, b"abc123", code="0")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {
        "name": "__main__",
        "file": "steps/probe.py",
        "argv": ["steps/probe.py", "--x", "0"],
        "path0": str(tmp_path / "steps"),
        "run_id": "abc123",
        "fd": None,
        "helper": 42,
    }


def test_exit_code_and_traceback_pass_through(tmp_path: Path) -> None:
    assert _launch(tmp_path, b"abc", code="4").returncode == 4
    (tmp_path / "steps" / "boom.py").write_text("raise RuntimeError('boom in the step')\n")
    proc = subprocess.run(
        [sys.executable, LAUNCHER, "script", "steps/boom.py"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 1 and "RuntimeError: boom in the step" in proc.stderr
    assert 'File "steps/boom.py", line 1' in proc.stderr


def test_no_run_id_means_the_step_does_not_run(tmp_path: Path) -> None:
    done = _launch(tmp_path, b"")
    assert done.returncode == EXIT_NO_RUN
    assert done.stdout == "" and "could not be created; the step did not run" in done.stderr


def test_without_tracking_it_runs_directly(tmp_path: Path) -> None:
    done = _launch(tmp_path, None)
    assert done.returncode == 0 and json.loads(done.stdout)["run_id"] is None
