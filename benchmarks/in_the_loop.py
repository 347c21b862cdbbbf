"""Benchmark: accuracy lost to a board's mismatch and recovered three ways.

Run: ``PYTHONPATH=. python benchmarks/in_the_loop.py [--boards 5]`` (about a minute per
board on 2 cores). The recipe is ``examples/silicon.py``: a nominally trained 4-class
frozen-noise network (one output neuron per class, spike-count readout) on virtual boards
with 20 % hidden mismatch; (a) mismatch-aware training, (b) calibration and retraining on the
calibrated simulation, (c) 5 epochs of chip-in-the-loop fine-tuning. Prints the per-board
figures and the table with mean, std, min, max over boards.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import silicon as recipe  # noqa: E402  (the example is the recipe)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", type=int, default=5)
    args = ap.parse_args()
    rows = recipe.run(args.boards)
    print(f"\n{args.boards} virtual boards with {recipe.MISMATCH:.0%} hidden mismatch")
    print(recipe.table(rows))
    sim = [r["simulation"] for r in rows]
    gap = [100 * (s - r["(c) in the loop"]) for s, r in zip(sim, rows, strict=True)]
    print(f"in the loop vs simulation, points lost per board: {', '.join(f'{g:.1f}' for g in gap)}")
    print(f"target: within 2 points on every board: {'met' if max(gap) <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
