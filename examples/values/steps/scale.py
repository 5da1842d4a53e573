"""Scale: read the numbers, check their count against --rows (given as ${gather.n_rows}), scale them around the mean
that gather gave."""

import argparse
from pathlib import Path

from scanflow_jupyter import step

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--rows", type=int, required=True, help="how many numbers gather wrote")
parser.add_argument("--factor", type=float, default=2.0)
args = parser.parse_args()

numbers = [float(line) for line in Path("work/numbers.txt").read_text().split()]
assert len(numbers) == args.rows, f"expected {args.rows} numbers, found {len(numbers)}"
mean = step.input("gather.mean")
scaled = [(x - mean) * args.factor for x in numbers]
Path("work/scaled.txt").write_text("\n".join(f"{x:.4f}" for x in scaled) + "\n")
step.output("spread", max(scaled) - min(scaled))
print(f"scale: {len(scaled)} numbers around {mean:.2f}")
