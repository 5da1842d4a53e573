"""Gather: make N numbers, write them to work/numbers.txt, and give their count and mean to the steps after it."""

import argparse
from pathlib import Path

from scanflow_jupyter import step

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--rows", type=int, default=340, help="how many numbers")
args = parser.parse_args()

numbers = [(i * 37) % 101 for i in range(args.rows)]
out = Path("work/numbers.txt")
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text("\n".join(map(str, numbers)) + "\n")  # the data itself: a file

step.output("n_rows", len(numbers))  # small facts about it: values
step.output("mean", sum(numbers) / len(numbers))
print(f"gather: {len(numbers)} numbers -> {out}")
