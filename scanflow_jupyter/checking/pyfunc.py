"""The MLflow ``python_function`` flavour of a detector, so ``mlflow.pyfunc.load_model`` and
``mlflow models serve`` can use it. Imported only when a detector is logged or served (it imports MLflow).

The model is logged "from code" (``pyfunc_entry.py`` is copied into the model and run at load), so loading it
unpickles nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np

__all__ = ["DetectorModel"]


class DetectorModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Scores samples: one row per sample with ``score``, ``p_value`` and ``anomalous``.

    The input is an array of samples (or a DataFrame of flattened samples, as an HTTP endpoint receives them).
    """

    def load_context(self, context: Any) -> None:
        from .mlflow_model import detector_from_files

        self.detector = detector_from_files(Path(context.artifacts["state"]).parent)

    # MLflow reads the input's annotation as a schema: a bare ndarray is one it accepts without inferring one.
    def predict(self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        detector = self.detector
        x = np.asarray(model_input.to_numpy() if hasattr(model_input, "to_numpy") else model_input, np.float32)
        shape = tuple(detector.sample_shape or ())
        if x.ndim == 2 and len(shape) > 1 and x.shape[1] == int(np.prod(shape)):
            x = x.reshape((len(x), *shape))
        scores = detector.score(x)
        p_values = detector.p_values(x)
        return pd.DataFrame({"score": scores, "p_value": p_values, "anomalous": scores > detector.threshold})
