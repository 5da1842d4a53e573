"""Train a random forest on work/train.csv -> work/models/forest.pkl."""
import argparse
import pickle
from pathlib import Path

import mlflow
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--n-estimators", type=int, default=50)
parser.add_argument("--max-depth", type=int, default=5)
parser.add_argument("--seed", type=int, default=7)
args = parser.parse_args()

train = pd.read_csv("work/train.csv")
X, y = train.drop(columns="target"), train["target"]
model = RandomForestClassifier(
    n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=args.seed
).fit(X, y)
train_accuracy = model.score(X, y)

out = Path("work/models/forest.pkl")
out.parent.mkdir(parents=True, exist_ok=True)
out.write_bytes(pickle.dumps(model))

with mlflow.start_run():
    mlflow.log_params(vars(args))
    mlflow.log_metric("train_accuracy", train_accuracy)
    mlflow.log_artifact(str(out))

print(f"train_forest: train_accuracy={train_accuracy:.4f} -> {out}")
