"""Gather: read the raw CSV (optionally only the first N rows) into work/gathered.csv."""
import argparse
from pathlib import Path

import mlflow
import pandas as pd

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--source", default="data/raw.csv", help="input CSV")
parser.add_argument("--rows", type=int, default=0, help="keep the first N rows (0 = all)")
args = parser.parse_args()

df = pd.read_csv(args.source)
if args.rows > 0:
    df = df.head(args.rows)
out = Path("work/gathered.csv")
out.parent.mkdir(parents=True, exist_ok=True)
df.to_csv(out, index=False)

with mlflow.start_run():
    mlflow.log_params(vars(args))
    mlflow.log_metric("n_rows", len(df))
    mlflow.log_metric("n_columns", df.shape[1])

print(f"gather: {len(df)} rows x {df.shape[1]} columns -> {out}")
