"""Train a logistic regression on work/train.csv -> work/models/linear.pkl."""
import argparse
import pickle
from pathlib import Path

import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
parser.add_argument("--max-iter", type=int, default=200)
args = parser.parse_args()

train = pd.read_csv("work/train.csv")
X, y = train.drop(columns="target"), train["target"]
model = LogisticRegression(C=args.c, max_iter=args.max_iter).fit(X, y)
train_accuracy = model.score(X, y)

out = Path("work/models/linear.pkl")
out.parent.mkdir(parents=True, exist_ok=True)
out.write_bytes(pickle.dumps(model))

with mlflow.start_run():
    mlflow.log_params(vars(args))
    mlflow.log_metric("train_accuracy", train_accuracy)
    mlflow.log_artifact(str(out))

print(f"train_linear: train_accuracy={train_accuracy:.4f} -> {out}")
