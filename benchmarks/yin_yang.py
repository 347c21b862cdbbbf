"""Benchmark of deep training: the Yin-Yang recipe of ``examples/yin_yang.py`` over seeds.

Run: ``PYTHONPATH=. python benchmarks/yin_yang.py`` (all parts, about 2 h on 2 cores), or
one part: ``--part seeds|sweep|mismatch``; ``--seeds N`` sets how many seeds each part uses;
``--solver exponential_euler`` runs the ``seeds`` part with that solver (default ``euler``).

Parts (each prints a table with one row per run and a summary with mean, std and min):
  * ``seeds``: the recipe (two layers, Adam with a cosine decay) at every seed;
    test accuracy on 1000 points of a held-out draw, training time, the accuracy of the
    quantized network (``map_network(net).network``, which equals
    ``network_from_config(config)``: 4-bit CAM masks, per-core base currents, BG settings),
    quantized with the sources' rates on the training points (``map_network(net,
    activity=source_rates(net, x_train)).network``, "activity"),
    and of the network deployed after quantization-aware fine-tuning
    (``recipe.deployable``, "chip"; with ``activity=True``, "chip, activity"). Targets:
    mean >= 95 %, every seed >= 93 %, < 5 min per seed; the chip within 2 points of the
    float network.
  * ``sweep``: one and two layers at constant Adam 1e-3, 3e-3 and 1e-2; the largest rise of the
    training loss above its running minimum (``rise``, nats) shows whether training ever
    goes backwards. Target: two layers beat one at every learning rate.
  * ``mismatch``: mismatch-aware training (a fresh 20 % draw every step) with the recipe's
    ``ROBUST`` settings, scored on 10 simulated chips per seed (``mismatch_spread``).
    Target: mean >= 93 %.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import yin_yang as recipe  # noqa: E402  (the example is the recipe)

from dynapse2.hardware import map_network, source_rates  # noqa: E402
from dynapse2.solvers import SOLVERS  # noqa: E402
from dynapse2.train import Spread, evaluate, mismatch_spread  # noqa: E402


def loss_rise(loss: list[float]) -> float:
    """Largest rise of a loss curve above its running minimum (0 if it never rises)."""
    best = np.minimum.accumulate(np.asarray(loss))
    return float(np.max(np.asarray(loss) - best))


def run(seed, data, *, depth=2, lr=recipe.LEARNING_RATE, decay=True, mismatch=0.0, solver="euler"):
    start = time.perf_counter()
    net, hist = recipe.train(
        recipe.build_network(depth, key=seed, solver=solver),
        data,
        learning_rate=lr,
        decay=decay,
        mismatch=mismatch,
        key=seed,
        progress=False,
    )
    seconds = time.perf_counter() - start
    _, _, x_test, y_test = data
    return net, hist, evaluate(net, x_test, y_test, recipe.LOSS)[1], seconds


def part_seeds(seeds: list[int], data, solver: str = "euler") -> None:
    x_train, _, x_test, y_test = data
    print(
        f"\n## seeds: two layers, Adam {recipe.LEARNING_RATE} cosine, {recipe.EPOCHS} epochs, "
        f"solver {solver}"
    )
    print(
        f"{'seed':>4} {'test %':>7} {'quantized %':>11} {'activity %':>10} {'chip %':>7} "
        f"{'chip, activity %':>16} {'rise':>6} {'time s':>7}"
    )
    acc, qacc, aacc, cacc, chacc, secs = [], [], [], [], [], []
    for s in seeds:
        net, hist, a, t = run(s, data, solver=solver)
        q = evaluate(map_network(net).network, x_test, y_test, recipe.LOSS)[1]
        weighted = map_network(net, activity=source_rates(net, x_train)).network
        qa = evaluate(weighted, x_test, y_test, recipe.LOSS)[1]
        chip = recipe.deployable(net, data, key=s, progress=False)
        c = evaluate(map_network(chip).network, x_test, y_test, recipe.LOSS)[1]
        chip_a = recipe.deployable(net, data, key=s, progress=False, activity=True)
        ca = evaluate(map_network(chip_a).network, x_test, y_test, recipe.LOSS)[1]
        acc.append(a), qacc.append(q), aacc.append(qa), cacc.append(c), chacc.append(ca)
        secs.append(t)
        row = (
            f"{s:>4} {100 * a:>7.1f} {100 * q:>11.1f} {100 * qa:>10.1f} {100 * c:>7.1f} "
            f"{100 * ca:>16.1f}"
        )
        print(f"{row} {loss_rise(hist.loss):>6.3f} {t:>7.0f}")
    print(f"float:     {Spread(acc)}")
    print(f"quantized: {Spread(qacc)}")
    print(f"quantized, activity-weighted: {Spread(aacc)}")
    print(f"chip (after {recipe.QAT_EPOCHS} quantization-aware epochs): {Spread(cacc)}")
    print(f"float - quantized: {Spread(np.subtract(acc, qacc))}")
    print(f"float - quantized, activity-weighted: {Spread(np.subtract(acc, aacc))}")
    print(f"chip, activity-weighted: {Spread(chacc)}")
    print(f"float - chip: {Spread(np.subtract(acc, cacc))}")
    print(f"float - chip, activity-weighted: {Spread(np.subtract(acc, chacc))}")
    print(f"time per seed: {np.mean(secs):.0f} s (max {np.max(secs):.0f} s)")


def part_sweep(seeds: list[int], data) -> None:
    print("\n## sweep: depth x constant learning rate")
    print(f"{'lr':>6} {'depth':>5} {'seed':>4} {'test %':>7} {'final loss':>10} {'rise':>6}")
    for lr in (1e-3, 3e-3, 1e-2):
        for depth in (1, 2):
            acc = []
            for s in seeds:
                _, hist, a, _ = run(s, data, depth=depth, lr=lr, decay=False)
                acc.append(a)
                end, rise = hist.loss[-1], loss_rise(hist.loss)
                print(f"{lr:>6g} {depth:>5} {s:>4} {100 * a:>7.1f} {end:>10.3f} {rise:>6.3f}")
            print(f"{lr:>6g} {depth:>5}  all {Spread(acc)}")


def part_mismatch(seeds: list[int], data, mismatch: float = 0.2) -> None:
    _, _, x_test, y_test = data
    settings = dict(recipe.ROBUST)
    hidden, pool, currents = settings.pop("hidden"), settings.pop("pool"), settings.pop("currents")
    loss = recipe.loss_for(pool)
    print(f"\n## mismatch: trained and scored under {mismatch:.0%} mismatch, 10 chips per seed")
    print(f"recipe: {hidden} hidden, pools of {pool}, {recipe.EPOCHS} epochs, starting currents")
    print(f"{currents}, {settings}")
    print(f"{'seed':>4} {'nominal %':>9}  {'over 10 chips':<42} {'time s':>7}")
    means = []
    for s in seeds:
        start = time.perf_counter()
        net, _ = recipe.train(
            recipe.build_network(2, hidden, key=s, pool=pool, currents=currents),
            data,
            mismatch=mismatch,
            key=s,
            progress=False,
            **settings,
        )
        seconds = time.perf_counter() - start
        nominal = evaluate(net, x_test, y_test, loss)[1]
        chips = mismatch_spread(net, x_test, y_test, loss, mismatch=mismatch, key=100 + s)
        means.append(chips.mean)
        print(f"{s:>4} {100 * nominal:>9.1f}  {chips!s:<42} {seconds:>7.0f}")
    print(f"mean over seeds of the mean over chips: {Spread(means)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("all", "seeds", "sweep", "mismatch"), default="all")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per part (sweep: default 2)")
    ap.add_argument("--solver", default="euler", choices=list(SOLVERS), help="part seeds only")
    args = ap.parse_args()
    data = recipe.make_data()
    seeds = list(range(args.seeds))
    if args.part in ("all", "seeds"):
        part_seeds(seeds, data, args.solver)
    if args.part in ("all", "sweep"):
        part_sweep(seeds if args.part == "sweep" else seeds[:2], data)
    if args.part in ("all", "mismatch"):
        part_mismatch(seeds, data)


if __name__ == "__main__":
    main()
