"""The code MLflow runs to load a detector's python_function model ("models from code"); never imported."""

import mlflow.models

from scanflow_jupyter.checking.pyfunc import DetectorModel

mlflow.models.set_model(DetectorModel())
