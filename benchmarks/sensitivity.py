"""Sensitivity analyses (hyperparameter, environment, data) of graphft; see :mod:`graphft.tuning.sensitivity`.

Run: ``nice python -m benchmarks.sensitivity [--setting small] [--kinds hyperparameter environment data]``.
Writes ``results/sensitivity/<kind>.{json,md,png}`` (and ``hyperparameter_importance.png``).
"""

from __future__ import annotations

import argparse

import optuna

from benchmarks.common import RESULTS
from graphft.tuning.knobs import KINDS
from graphft.tuning.problems import SETTINGS, problem_for
from graphft.tuning.sensitivity import run_sensitivity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", choices=SETTINGS, default="small")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--output", default=str(RESULTS / "sensitivity"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    problem = problem_for(args.setting)
    for kind in args.kinds:
        payload = run_sensitivity(kind, args.output, setting=args.setting, seeds=args.seeds, problem=problem)
        ranked = sorted(payload["summary"].items(), key=lambda item: -(item[1]["effect"] or 0))
        print(f"{kind}: {payload['seconds']:.0f} s; effects: " + ", ".join(f"{k} {v['effect']:.3f}" for k, v in ranked))


if __name__ == "__main__":
    main()
