"""Train a support-vector classifier on work/reference.npz (plus work/labeled.npz, the labels the improver exported,
when there are any), log its accuracy on work/test.npz and register it as a new version of the model."""
import argparse
import os

import mlflow
import numpy as np
from mlflow.models import infer_signature
from sklearn.svm import SVC

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--c", type=float, default=10.0, help="the SVC's C")
parser.add_argument("--model-name", default="digits-classifier", help="the registered model")
args = parser.parse_args()

reference, test = np.load("work/reference.npz"), np.load("work/test.npz")
x, y = reference["x"], reference["y"]
labeled = 0
if os.path.exists("work/labeled.npz"):
    extra = np.load("work/labeled.npz")
    x, y = np.concatenate([x, extra["x"]]), np.concatenate([y, extra["y"].astype(y.dtype)])
    labeled = len(extra["y"])
model = SVC(C=args.c, gamma="scale").fit(x, y)
accuracy = float(model.score(test["x"], test["y"]))

with mlflow.start_run():
    mlflow.log_params({"c": args.c, "n_reference": len(reference["y"]), "n_labeled": labeled})
    mlflow.log_metric("test_accuracy", accuracy)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        registered_model_name=args.model_name,
        serialization_format="cloudpickle",
        signature=infer_signature(test["x"][:2], model.predict(test["x"][:2])),
        pip_requirements=["scikit-learn", "numpy", "cloudpickle"],  # named: MLflow need not infer them
    )
print(f"fit: {len(y)} samples ({labeled} labeled in production), test accuracy {accuracy:.3f}, "
      f"{args.model_name} version {info.registered_model_version}")
