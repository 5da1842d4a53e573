"""Evaluate both models on work/test.csv and write work/report.json."""
import argparse
import json
import pickle
from pathlib import Path

import mlflow
import pandas as pd

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--models-dir", default="work/models")
args = parser.parse_args()

test = pd.read_csv("work/test.csv")
X, y = test.drop(columns="target"), test["target"]
accuracy = {}
for name in ("linear", "forest"):
    model = pickle.loads(Path(args.models_dir, f"{name}.pkl").read_bytes())
    accuracy[name] = float(model.score(X, y))
best = max(accuracy, key=accuracy.get)  # ties go to the simpler (linear) model

report = {
    "accuracy_linear": accuracy["linear"],
    "accuracy_forest": accuracy["forest"],
    "best_model": best,
    "n_test": len(test),
}
out = Path("work/report.json")
out.write_text(json.dumps(report, indent=2) + "\n")

with mlflow.start_run():
    mlflow.log_metric("accuracy_linear", accuracy["linear"])
    mlflow.log_metric("accuracy_forest", accuracy["forest"])
    mlflow.log_param("best_model", best)
    mlflow.set_tag("best_model", best)
    mlflow.log_artifact(str(out))

print(
    f"evaluate: accuracy_linear={accuracy['linear']:.4f} "
    f"accuracy_forest={accuracy['forest']:.4f} best_model={best}"
)
