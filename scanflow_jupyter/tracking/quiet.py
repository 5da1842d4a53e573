"""Quiet defaults for the libraries under a run, so that what shows in red in a notebook (stderr) is what went
wrong, not start-up chatter: MLflow's INFO lines (creating tables, migrations), its "Downloading artifacts"
progress bars, TensorFlow's C++ INFO lines (oneDNN, CPU features).

Only defaults: a variable the user set wins, and setting ``MLFLOW_LOGGING_LEVEL=INFO`` (or
``TF_CPP_MIN_LOG_LEVEL=0``) brings the lines back. Applied where scanflow starts work: the notebook extension, the
steps a run starts, a tracking writer, a detector's Keras.

Example
-------
>>> env = {"MLFLOW_LOGGING_LEVEL": "DEBUG"}
>>> quiet_defaults(env)
>>> env["MLFLOW_LOGGING_LEVEL"], env["TF_CPP_MIN_LOG_LEVEL"]
('DEBUG', '2')
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping

QUIET_ENV: dict[str, str] = {
    # MLflow configures its loggers from this when it is first imported (mlflow.utils.logging_utils).
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    # Artifact downloads (a model loaded, a run's artifacts read) draw tqdm bars on stderr otherwise.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # TensorFlow's C++ logging: 2 hides INFO and WARNING (the oneDNN and CPU-feature lines), keeps errors.
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def quiet_defaults(env: MutableMapping[str, str] | None = None) -> None:
    """Put :data:`QUIET_ENV` in ``env`` (default: this process's environment) where it is not set."""
    target = os.environ if env is None else env
    for key, value in QUIET_ENV.items():
        target.setdefault(key, value)


def quiet_loggers() -> None:
    """MLflow's and alembic's loggers at WARNING when MLflow is already imported (its level came from the
    environment at import, maybe before :func:`quiet_defaults` ran), unless the user asked for more."""
    wanted = os.environ.get("MLFLOW_LOGGING_LEVEL", "WARNING").upper()
    level = logging.getLevelName(wanted)
    if not isinstance(level, int):
        level = logging.WARNING
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(level)
