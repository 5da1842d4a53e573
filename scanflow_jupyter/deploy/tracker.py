"""The MLflow tracking server of a deployed application, the same process on every backend.

Each backend gives the host names it is reached by (a Docker network alias, a Kubernetes Service) and mounts
its volumes at ``/mlflow/db`` and ``/mlflow/artifacts``.

Example
-------
>>> server_command(["tracker", "tracker:*"])[-2:]
['--allowed-hosts', 'tracker,tracker:*']
"""

from __future__ import annotations

TRACKER_PORT = 5000


def server_command(allowed_hosts: list[str]) -> list[str]:
    """The MLflow server: SQLite and artifacts on its volumes, artifacts served through it, one worker, and
    only ``allowed_hosts`` accepted as the ``Host`` of a request (MLflow's DNS-rebinding protection)."""
    return [
        "mlflow",
        "server",
        "--host",
        "0.0.0.0",
        "--port",
        str(TRACKER_PORT),
        "--backend-store-uri",
        "sqlite:////mlflow/db/mlflow.db",
        "--artifacts-destination",
        "/mlflow/artifacts",
        "--serve-artifacts",
        "--workers",
        "1",
        "--allowed-hosts",
        ",".join(allowed_hosts),
    ]
