"""Generate data/raw.csv deterministically (numpy, fixed seed).

Usage (from examples/tabular): python data/make_data.py
"""
import argparse
from pathlib import Path

import numpy as np

COLUMNS = ["age", "income", "balance", "tenure", "visits"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(Path(__file__).with_name("raw.csv")))
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    n = args.rows
    age = rng.uniform(18, 75, n)
    income = rng.lognormal(10.5, 0.4, n) / 1000.0  # thousands
    balance = rng.normal(2.0, 1.5, n)
    tenure = rng.integers(0, 21, n).astype(float)
    visits = rng.poisson(4, n).astype(float)
    # Mostly linear signal plus an interaction, so the two models differ a bit.
    logit = (
        0.04 * (age - 45)
        + 0.03 * (income - 38)
        + 0.6 * balance
        - 0.08 * tenure
        + 0.5 * np.sin(visits)
        + 0.3 * (balance > 3) * (age > 50)
        - 1.0
    )
    target = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)

    with open(args.out, "w", newline="\n") as f:
        f.write(",".join(COLUMNS + ["target"]) + "\n")
        for i in range(n):
            f.write(
                f"{age[i]:.1f},{income[i]:.3f},{balance[i]:.3f},"
                f"{int(tenure[i])},{int(visits[i])},{target[i]}\n"
            )
    print(f"wrote {n} rows to {args.out} (positive rate {target.mean():.2f})")


if __name__ == "__main__":
    main()
