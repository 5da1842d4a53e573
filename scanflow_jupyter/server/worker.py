"""The process that drives a run the server extension starts: ``python -m scanflow_jupyter.server.worker run
FOLDER WORKFLOW RUN_ID`` (or ``resume FOLDER RUN_ID``). A process of its own, so that the run outlives the
request and the server's event loop (and the server's restart), and stops cleanly on SIGINT, as ``scanflow run``
does on Ctrl-C: nothing new starts, running steps are stopped, the run ends ``cancelled``.

Its output goes to ``.scanflow/runs/RUN_ID/worker.log``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from ..engine import resume, run
    from ..workflow import load

    if len(argv) == 4 and argv[0] == "run":
        _, folder, workflow, run_id = argv
        result = run(load(folder), workflow, check=False, run_id=run_id)
    elif len(argv) == 3 and argv[0] == "resume":
        _, folder, run_id = argv
        result = resume(load(folder), run_id, check=False)
    else:
        print("usage: python -m scanflow_jupyter.server.worker run FOLDER WORKFLOW RUN_ID | resume FOLDER RUN_ID")
        return 2
    print(f"run {result.run_id}: {result.status}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
