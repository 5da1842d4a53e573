"""The Jupyter server extension: authenticated HTTP handlers over the same services as the CLI, for the Scanflow
sidebar and the ``scanflow.yaml`` document editor of the labextension.

Installed and enabled with the package (``jupyter-config/server-config/scanflow_jupyter.json`` in the wheel, so
``jupyter server extension list`` shows ``scanflow_jupyter``). Every route is under ``/scanflow/api/`` (see
:mod:`.handlers`); every path a request names is relative to the server's root folder, and one outside it is
refused (HTTP 403).

Only this layer imports ``jupyter_server`` and ``tornado``; they load when the server loads the extension, never
with ``import scanflow_jupyter``. The services themselves (:mod:`.apps`, :mod:`.compose`, :mod:`.jobs`) are plain
Python, tested without a server.

Example
-------
>>> from scanflow_jupyter.server import API_BASE
>>> API_BASE
'scanflow/api'
"""

from __future__ import annotations

from typing import Any

API_BASE = "scanflow/api"

__all__ = ["API_BASE"]


def _load_jupyter_server_extension(server_app: Any) -> None:
    # Named by jupyter_server's protocol (scanflow_jupyter._jupyter_server_extension_points points here).
    from .handlers import setup_handlers

    setup_handlers(server_app)
    server_app.log.info("scanflow_jupyter: the Scanflow sidebar's API is at /%s/", API_BASE)
