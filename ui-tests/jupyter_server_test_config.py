"""The JupyterLab server of the Galata tests (`jlpm start`, started by Playwright's `webServer`).

Galata's test settings (no token, no XSRF check, its helper extension, `window.jupyterapp` exposed) on a fixed
loopback port, serving a scratch copy of the repository's `notebooks/` and `examples/`: specs open
`notebooks/quickstart.ipynb` as users do, and whatever a run writes lands in the copy, never in the repository.
Set JUPYTERLAB_GALATA_ROOT_DIR to serve another folder instead (nothing is copied then).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

REPO = Path(__file__).resolve().parents[1]
# Kept in step with playwright.config.ts, which passes the same variable to this process.
PORT = int(os.environ.get("SCANFLOW_UI_PORT", "8899"))
# Outputs of local runs, which a fresh checkout does not have either.
IGNORE = shutil.ignore_patterns(".scanflow", "mlruns", "work", ".ipynb_checkpoints", "__pycache__")

# Everything this server writes outside its kernels goes under one folder, removed when the server stops
# (Playwright stops it with SIGTERM, see gracefulShutdown in playwright.config.ts).
scratch = Path(tempfile.mkdtemp(prefix="scanflow-ui-"))
atexit.register(shutil.rmtree, scratch, ignore_errors=True)
# Kernels inherit this: what a notebook puts in tempfile.mkdtemp() (the quickstart's scratch application, the specs'
# throwaway applications) is removed with the rest.
os.environ["TMPDIR"] = str(scratch)

if not os.environ.get("JUPYTERLAB_GALATA_ROOT_DIR"):
    root = scratch / "root"
    for name in ("notebooks", "examples"):
        shutil.copytree(REPO / name, root / name, ignore=IGNORE)
    os.environ["JUPYTERLAB_GALATA_ROOT_DIR"] = str(root)

c = get_config()  # noqa: F821  (defined by Jupyter when it loads this file)
# configure_jupyter_server makes temporary folders and files it never removes: make them inside `scratch`.
saved_tempdir, tempfile.tempdir = tempfile.tempdir, str(scratch)
try:
    configure_jupyter_server(c)
finally:
    tempfile.tempdir = saved_tempdir
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = PORT
