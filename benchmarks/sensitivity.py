"""Sensitivity analyses (hyperparameter, environment, data) of graphft; see :mod:`graphft.tuning.sensitivity`.

Run: ``nice python -m benchmarks.sensitivity [--setting small] [--kinds hyperparameter environment data]``.
Writes ``results/sensitivity/<kind>.{json,md,png}`` (and ``hyperparameter_importance.png``). ``--replot``
redraws the ``<kind>.png`` sweep plots from the stored JSON records without training.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import optuna

from benchmarks.common import RESULTS
from graphft.tuning.knobs import KINDS, KNOBS
from graphft.tuning.problems import SETTINGS, problem_for
from graphft.tuning.report import plot_sweeps
from graphft.tuning.sensitivity import TITLES, run_sensitivity


def replot(output: Path, kinds: list[str]) -> None:
    """Redraw each kind's sweep plot from its JSON records (the default knobs)."""
    for kind in kinds:
        payload = json.loads((output / f"{kind}.json").read_text())
        records = [r | {"metric": float("nan") if r["metric"] is None else r["metric"]} for r in payload["records"]]
        plot_sweeps(output / f"{kind}.png", f"{TITLES[kind]}: {payload['problem']}", records, KNOBS[kind])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", choices=SETTINGS, default="small")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--output", default=str(RESULTS / "sensitivity"))
    parser.add_argument("--replot", action="store_true", help="redraw the PNGs from the JSON files only")
    args = parser.parse_args()
    if args.replot:
        replot(Path(args.output), args.kinds)
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    problem = problem_for(args.setting)
    for kind in args.kinds:
        payload = run_sensitivity(kind, args.output, setting=args.setting, seeds=args.seeds, problem=problem)
        ranked = sorted(payload["summary"].items(), key=lambda item: -(item[1]["effect"] or 0))
        print(f"{kind}: {payload['seconds']:.0f} s; effects: " + ", ".join(f"{k} {v['effect']:.3f}" for k, v in ranked))


if __name__ == "__main__":
    main()
