"""``graphft study`` (an Optuna study) and ``graphft sensitivity`` (the three sensitivity analyses)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register_tuning"]

RAW = argparse.RawDescriptionHelpFormatter
PRUNERS = ("median", "hyperband", "none")


def _problem(args: argparse.Namespace) -> Any:
    from graphft.tuning import Problem, problem_for

    if args.config is None:
        return problem_for(args.setting, seed=args.seed)
    from graphft.backbones import load_backbone, load_tokenizer
    from graphft.runs import build_data, load_run_config

    run = load_run_config(args.config, args.set or [])
    model = run.model
    data = build_data(run.data, load_tokenizer(model.backbone), model.training.max_length)
    return Problem(load_backbone(model.backbone, model.num_hidden_layers), data, model, str(args.config))


def _study(args: argparse.Namespace) -> int:
    import optuna

    from graphft.tuning import MultiObjective, Objective, default_search_space, run_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = default_search_space()
    if args.params:
        space = space.only(*[key.strip() for key in args.params.split(",") if key.strip()])
    problem = _problem(args)
    objective: Any
    if args.cost:
        objective = MultiObjective(problem, space, eval_every=args.eval_every, cost=args.cost)
    else:
        objective = Objective(problem, space, eval_every=args.eval_every)
    pruner = {
        "median": optuna.pruners.MedianPruner(),
        "hyperband": optuna.pruners.HyperbandPruner(),
        "none": optuna.pruners.NopPruner(),
    }[args.pruner]
    study = run_study(objective, args.trials, args.study_name, args.storage, pruner=pruner)
    finished = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    print(f"study {study.study_name!r}: {len(study.trials)} trials, {len(finished)} complete")
    for trial in study.best_trials if args.cost else ([study.best_trial] if finished else []):
        print(f"  trial {trial.number}: values {trial.values} params {trial.params}")
    print("inspect it with: optuna-dashboard <storage URL> (the default file is sqlite:///graphft_tuning.db)")
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    import optuna

    from graphft.tuning.sensitivity import run_sensitivity

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for kind in args.kinds:
        payload = run_sensitivity(
            kind, args.output, setting=args.setting, seeds=args.seeds, joint_trials=args.joint_trials
        )
        ranked = sorted(payload["summary"].items(), key=lambda item: -(item[1]["effect"] or 0))
        effects = ", ".join(f"{knob} {value['effect']:.3f}" for knob, value in ranked)
        print(f"{kind}: {payload['seconds']:.0f} s; effect of each knob (metric range): {effects}")
    print(f"wrote <kind>.json, .md and .png to {args.output}")
    return 0


def register_tuning(commands: Any) -> None:
    """Add ``study`` and ``sensitivity`` to the command parser."""
    study = commands.add_parser(
        "study",
        help="run (or resume, or join as another worker) an Optuna study",
        description="Tune graphft with Optuna over the default search space (or --params of it). The study lives "
        "in --storage (a SQLite file by default, any RDB URL, or a journal file) and resumes when rerun; start the "
        "same command in several processes to share the work; --trials is the total over all workers.\n\n"
        "examples:\n  graphft study --setting small --trials 20\n"
        "  graphft study run.yaml --trials 50 --storage postgresql://user@host/db --pruner hyperband\n"
        "  graphft study --setting tiny --trials 8 --params router.routing_temperature,router.gating_threshold\n"
        "  graphft study --setting small --trials 20 --cost parameters   # accuracy vs trainable parameters",
        formatter_class=RAW,
    )
    study.add_argument("config", nargs="?", default=None, help="a YAML run config (default: --setting's problem)")
    study.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key of the run config")
    study.add_argument("--setting", default="small", choices=["tiny", "small", "full"], help="built-in problem")
    study.add_argument("--trials", type=int, default=20, help="total trials of the study")
    study.add_argument("--storage", default=None, help="SQLite path (default graphft_tuning.db), RDB URL or journal")
    study.add_argument("--study-name", default="graphft")
    study.add_argument("--pruner", default="median", choices=PRUNERS)
    study.add_argument("--params", default=None, help="comma-separated keys of the default space to tune")
    study.add_argument("--cost", default=None, choices=["parameters", "step_time"], help="multi-objective cost")
    study.add_argument("--eval-every", type=int, default=0, help="report to the pruner every this many steps")
    study.add_argument("--seed", type=int, default=0)
    study.set_defaults(handler=_study)

    sensitivity = commands.add_parser(
        "sensitivity",
        help="sensitivity analyses: hyperparameter, environment, data",
        description="Sweep each knob of a family around the default with several seeds and write "
        "<kind>.json, <kind>.md and <kind>.png (the hyperparameter family also runs a joint study with parameter "
        "importances).\n\nexamples:\n  graphft sensitivity hyperparameter --output runs/sensitivity\n"
        "  graphft sensitivity data environment --setting tiny --output runs/sens-tiny",
        formatter_class=RAW,
    )
    sensitivity.add_argument("kinds", nargs="+", choices=["hyperparameter", "environment", "data"])
    sensitivity.add_argument("--setting", default="small", choices=["tiny", "small", "full"])
    sensitivity.add_argument("--output", default="runs/sensitivity")
    sensitivity.add_argument("--seeds", type=int, nargs="+", default=None)
    sensitivity.add_argument("--joint-trials", type=int, default=None, help="trials of the joint study (0 skips)")
    sensitivity.set_defaults(handler=_sensitivity)
