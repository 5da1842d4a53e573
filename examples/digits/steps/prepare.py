"""Split scikit-learn's digits: work/reference.npz (training), work/test.npz (clean test set), work/unseen.npz
(digits kept aside to play production traffic). Pixels on [0, 1]."""
import argparse
from pathlib import Path

import mlflow
import numpy as np
from sklearn.datasets import load_digits

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--reference", type=int, default=1000, help="samples to train on")
parser.add_argument("--test", type=int, default=300, help="samples to test on")
args = parser.parse_args()

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
order = np.random.default_rng(args.seed).permutation(len(x))
parts = {
    "reference": order[: args.reference],
    "test": order[args.reference : args.reference + args.test],
    "unseen": order[args.reference + args.test :],
}
Path("work").mkdir(exist_ok=True)
for name, rows in parts.items():
    np.savez(f"work/{name}.npz", x=x[rows], y=y[rows], ids=np.array([f"digit-{r}" for r in rows]))

with mlflow.start_run():
    mlflow.log_params(vars(args))
    mlflow.log_metrics({f"n_{name}": len(rows) for name, rows in parts.items()})
print("prepare: " + ", ".join(f"{len(rows)} {name}" for name, rows in parts.items()))
