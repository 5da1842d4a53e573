"""Two processes append to one labeling pool at once (a checker agent and a notebook, say): every sample they were
told is in lands in the pool, once. Real processes, a real pool file and label store under tmp_path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scanflow_jupyter.active import LabelStore
from scanflow_jupyter.checking import load_batch

pytestmark = [pytest.mark.faults, pytest.mark.slow]

# Appends its samples one at a time (the most interleaving two writers can get), each through queue_samples: what
# the checker agent's QueueForLabeling and the queue_flagged step call.
APPENDER = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from scanflow_jupyter.active.step import queue_samples

    pool, store, who, n, ready, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
    open(ready, "w").close()
    while not os.path.exists(go):  # both writers start together
        time.sleep(0.001)
    for i in range(n):
        sample_id = f"{who}-{i}"
        x = np.full((1, 4), i, dtype=np.float32)
        queue_samples(x, [sample_id], [float(i)], pool=pool, session="s", store=store, classes="a,b", source=who)
        print(sample_id, flush=True)  # acknowledged: in the pool
    """
)


def test_two_processes_append_500_samples_each_to_one_pool(tmp_path: Path) -> None:
    script = tmp_path / "appender.py"
    script.write_text(APPENDER)
    pool, store, go = tmp_path / "labeling" / "pool.npz", tmp_path / "labels.db", tmp_path / "go"
    writers = ("agent", "notebook")
    procs = {
        who: subprocess.Popen(
            [sys.executable, str(script), str(pool), str(store), who, "500", str(tmp_path / f"ready.{who}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in writers
    }
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready.{who}").exists() for who in writers):
        assert time.monotonic() < deadline, "the writers did not start"
        assert all(p.poll() is None for p in procs.values()), {w: p.communicate() for w, p in procs.items()}
        time.sleep(0.01)
    go.touch()
    outputs = {who: p.communicate(timeout=600) for who, p in procs.items()}
    assert all(p.returncode == 0 for p in procs.values()), {w: err[-2000:] for w, (_, err) in outputs.items()}
    acknowledged = [line for out, _ in outputs.values() for line in out.split()]
    assert len(acknowledged) == 1000

    ids = load_batch(pool).ids
    lost = sorted(set(acknowledged) - set(ids))
    duplicated = len(ids) - len(set(ids))
    assert (len(lost), duplicated) == (0, 0), f"lost {len(lost)} ({lost[:5]}...), duplicated {duplicated}"
    assert len(ids) == 1000
    queued = LabelStore(store).queued("s")
    assert sorted(q[0] for q in queued) == sorted(acknowledged)  # each queued once, too
    assert not [p.name for p in pool.parent.iterdir() if p.name.endswith(".tmp.npz")]  # no temp file left
