"""Preprocess: train/test split and feature standardisation (scaler fit on train only)."""
import argparse
from pathlib import Path

import mlflow
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--test-size", type=float, default=0.25)
parser.add_argument("--seed", type=int, default=7)
args = parser.parse_args()

df = pd.read_csv("work/gathered.csv")
features = [c for c in df.columns if c != "target"]
train, test = train_test_split(
    df, test_size=args.test_size, random_state=args.seed, stratify=df["target"]
)
scaler = StandardScaler().fit(train[features])
train, test = train.copy(), test.copy()
train[features] = scaler.transform(train[features])
test[features] = scaler.transform(test[features])

Path("work").mkdir(exist_ok=True)
train.to_csv("work/train.csv", index=False)
test.to_csv("work/test.csv", index=False)

with mlflow.start_run():
    mlflow.log_params(vars(args))
    mlflow.log_metric("n_train", len(train))
    mlflow.log_metric("n_test", len(test))

print(f"preprocess: {len(train)} train / {len(test)} test rows, {len(features)} features")
