"""A run on a small disk that fills up (a tmpfs of a few MB, filled by a step): the run fails at once with a
message naming the file it could not write and the space left, nothing hangs, no temporary file is left, and
once there is space again ``scanflow resume`` finishes it, losing nothing."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import FAULT_STEP, assert_complete, ends, read_state, scanflow

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SIZE_MB = 8

# Fills the disk once (a marker outside it says it did), then ends well: the driver is the first to find the disk
# full. It writes with os.write and exits with os._exit, so nothing of its own fails on the full disk.
FILL = textwrap.dedent(
    """
    import os, sys
    marker = sys.argv[sys.argv.index("--marker") + 1]
    if os.path.exists(marker):
        print("done fill")
        sys.exit(0)
    open(marker, "w").close()
    fd = os.open("fill.bin", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\\0" * (1 << 16))
    except OSError:
        os._exit(0)
    """
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of SIZE_MB mounted for the test (root only); skipped, with the reason, where mounting fails."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no 'mount' program: a small tmpfs cannot be made here")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.timeout(300)
def test_a_disk_that_fills_fails_the_run_clearly_and_resume_finishes_it(
    small_disk: Path, tmp_path: Path, seed_store: Callable[[Path], None], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = small_disk / "app"
    (folder / "out").mkdir(parents=True)
    (folder / "step.py").write_text(FAULT_STEP)
    (folder / "fill.py").write_text(FILL)
    nodes = [
        {"name": "gather", "script": "step.py"},
        {
            "name": "fill",
            "script": "fill.py",
            "parameters": {"marker": str(tmp_path / "filled")},
            "depends_on": ["gather"],
        },
        {"name": "after", "script": "step.py", "depends_on": ["fill"]},
    ]
    nodes[1]["depends_on"] = ["gather"]
    spec = {"scanflow": 1, "name": "full", "workflows": [{"name": "main", "nodes": nodes}]}
    (folder / "scanflow.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    seed_store(folder)

    failed = scanflow("run", str(folder), "-q", timeout=180)  # a hang fails the test here
    assert failed.returncode == 1, failed.stderr
    run_id = read_state(folder).run_id
    state_file = folder / ".scanflow" / "runs" / run_id / "state.json"
    assert f"error: Could not write the state of run {run_id} to {state_file}: No space left on device (" in (
        failed.stderr
    ), failed.stderr
    assert " free on that disk)" in failed.stderr and "'scanflow resume' finishes it" in failed.stderr
    assert not list(small_disk.rglob("*.tmp")), list(small_disk.rglob("*.tmp"))
    assert ends(folder)["after"] == 0  # nothing ran after the disk filled

    (folder / "fill.bin").unlink()  # space again
    resumed = scanflow("resume", str(folder), "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert ends(folder) == {"gather": 1, "after": 1}  # gather, which finished before, was not run again
    assert_complete(folder, run_id, steps=["gather", "fill", "after"], groups=())
    assert not list(small_disk.rglob("*.tmp"))
    with capsys.disabled():
        print(f"\n  fault: a {SIZE_MB} MB disk filled mid-run: failed in one go, named the file; resume lost 0")
