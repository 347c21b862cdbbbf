"""Benchmark: accuracy lost to a board's mismatch and recovered three ways.

Run: ``PYTHONPATH=. python benchmarks/in_the_loop.py [--task frozen-noise|yin-yang]
[--boards 5]`` (25 s to 1 min per board on 2 cores). The recipe is ``examples/silicon.py``: a
nominally trained network (frozen noise: one output neuron per class, spike counts;
Yin-Yang: two layers, pools of 4 read by first spikes) on virtual boards with 20 % hidden
mismatch; (a) mismatch-aware training, (b) calibration and retraining on the calibrated
simulation, (c) chip-in-the-loop fine-tuning. Prints the per-board figures and the table with
mean, std, min, max over boards.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import silicon as recipe  # noqa: E402  (the example is the recipe)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=sorted(recipe.TASKS), default="frozen-noise")
    ap.add_argument("--boards", type=int, default=5)
    args = ap.parse_args()
    rows = recipe.run(recipe.TASKS[args.task], args.boards)
    print(f"\n{args.task}: {args.boards} virtual boards, {recipe.MISMATCH:.0%} hidden mismatch")
    print(recipe.table(rows))
    sim = [r["simulation"] for r in rows]
    gap = [100 * (s - r["(c) in the loop"]) for s, r in zip(sim, rows, strict=True)]
    print(f"in the loop vs simulation, points lost per board: {', '.join(f'{g:.1f}' for g in gap)}")
    print(f"target: within 2 points on every board: {'met' if max(gap) <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
