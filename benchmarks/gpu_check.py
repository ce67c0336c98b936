"""GPU check of the training loop on MiniLM-L6: correctness against CPU, then step time against PEFT LoRA.

1. Correctness: the same seeded model and batches (noise-free ``softmax`` routing, dropout off) trained for a
   few steps with :func:`graphft.training.train` on CPU in fp32 and on CUDA in fp32 and bf16 autocast; the
   loss curves and the final eval logits must agree within fp32 / bf16 tolerances.
2. Speed: one full training step (forward + backward + AdamW, fused on CUDA) of the graphft model (K=8, r=8,
   4 tasks in the batch) against PEFT LoRA r=8 on the same target layers with the same batch, timed
   interleaved, in fp32 and bf16; reported as graphft / PEFT ratios.

Run: ``python -m benchmarks.gpu_check [--steps 5] [--rounds 20]`` on a CUDA machine (a few minutes at most).
Writes ``results/gpu_check.{json,md}``. Without CUDA it exits at once with a message saying so;
``--device cpu`` runs the same code path on CPU against itself (a dry run of the script, not a GPU check).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

import torch

TARGETS = ["query", "value"]
TASKS = 4
NO_CUDA_MESSAGE = (
    "benchmarks.gpu_check needs a CUDA device, and torch.cuda.is_available() is False on this machine; run it "
    "on a GPU machine (or pass --device cpu for a dry run of the script on CPU)."
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="'cuda' (the check) or 'cpu' (a dry run on CPU).")
    parser.add_argument("--steps", type=int, default=5, help="training steps of the correctness check")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=20, help="timing rounds per method and precision")
    parser.add_argument("--layers", type=int, default=None, help="keep only the backbone's first layers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print the table but write no result files")
    return parser.parse_args(argv)


def _graphft_model(args: argparse.Namespace, specs: list[Any]) -> Any:
    """The seeded graphft model on MiniLM with noise-free routing and no dropout (so CPU and CUDA agree)."""
    from graphft.backbones import load_backbone
    from graphft.config import AdapterConfig, GraphConfig, GraphFTConfig, RouterConfig, TrainingConfig
    from graphft.model import GraphFTModel

    backbone = load_backbone("minilm", num_hidden_layers=args.layers)
    for module in backbone.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    config = GraphFTConfig(
        adapter=AdapterConfig(num_modules=8, rank=8, target_modules=TARGETS),
        router=RouterConfig(relaxation="softmax"),
        graph=GraphConfig(embedding_dim=16),
        training=TrainingConfig(steps=args.steps, batch_size=args.batch, max_length=args.tokens, progress=False),
    )
    return GraphFTModel(backbone, specs, config)


def check_correctness(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Train the same model on CPU (fp32) and on ``device`` (fp32, bf16); compare losses and eval logits."""
    from graphft.tasks.planted import planted_problem
    from graphft.training import _autocast, train

    problem = planted_problem(
        num_clusters=2,
        tasks_per_cluster=2,
        train_examples=64,
        eval_examples=16,
        tokens=args.tokens,
        vocab_size=1000,
        seed=args.seed,
    )
    data = problem.data
    probe = data.batch("validation", torch.arange(8) % len(data), torch.arange(8))
    runs: dict[str, dict[str, Any]] = {}
    for name, run_device, precision in (
        ("cpu_fp32", "cpu", "fp32"),
        ("fp32", device, "fp32"),
        ("bf16", device, "bf16"),
    ):
        model = _graphft_model(args, data.specs).to(run_device)
        config = dataclasses.replace(model.config.training, precision=precision)
        losses = [record["loss"] for record in train(model, data, config, log_every=1).history]
        with torch.no_grad(), _autocast(torch.device(run_device), precision):
            logits = model(**{key: value.to(run_device) for key, value in probe.items()}).logits.float().cpu()
        runs[name] = {"losses": losses, "logits": logits}
    reference = runs["cpu_fp32"]
    tolerances = {"fp32": 1e-3, "bf16": 5e-2}
    report: dict[str, Any] = {"cpu_fp32_losses": reference["losses"]}
    for name, tolerance in tolerances.items():
        losses = torch.tensor(runs[name]["losses"])
        loss_error = float(((losses - torch.tensor(reference["losses"])).abs() / losses.abs().clamp_min(1e-6)).max())
        finite = torch.isfinite(reference["logits"]) & torch.isfinite(runs[name]["logits"])
        scale = float(reference["logits"][finite].abs().max().clamp_min(1e-6))
        logit_error = float((runs[name]["logits"][finite] - reference["logits"][finite]).abs().max()) / scale
        report[name] = {
            "losses": runs[name]["losses"],
            "max_relative_loss_error": loss_error,
            "max_relative_logit_error": logit_error,
            "tolerance": tolerance,
            "ok": loss_error <= tolerance and logit_error <= tolerance,
        }
    return report


def build_steps(args: argparse.Namespace, device: torch.device) -> dict[str, Callable[[], None]]:
    """One closure per (method, precision) running a full training step on the same fixed batch."""
    from graphft.tasks.spec import TaskSpec
    from graphft.training import build_optimizer

    torch.manual_seed(args.seed)
    specs = [TaskSpec(f"task{t}", label_names=["no", "yes"]) for t in range(TASKS)]
    input_ids = torch.randint(1000, 20000, (args.batch, args.tokens), device=device)
    attention_mask = torch.ones(args.batch, args.tokens, dtype=torch.long, device=device)
    task_ids = torch.arange(args.batch, device=device) % TASKS
    labels = torch.randint(0, 2, (args.batch,), device=device)
    fused = device.type == "cuda"
    steps: dict[str, Callable[[], None]] = {}
    for precision in ("fp32", "bf16"):
        autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")

        model = _graphft_model(args, specs).to(device).train()
        optimizer = build_optimizer(model, model.config.training)

        def step_graphft(model=model, optimizer=optimizer, autocast=autocast) -> None:
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                loss = model(input_ids=input_ids, attention_mask=attention_mask, task_ids=task_ids, labels=labels).loss
            loss.backward()
            optimizer.step()

        steps[f"graphft_{precision}"] = step_graphft

        lora = _peft_on_fresh_backbone(args, device)  # a fresh backbone: graphft's banks are injected in place
        head = torch.nn.Linear(lora.config.hidden_size, 2).to(device)
        params = [p for p in lora.parameters() if p.requires_grad] + list(head.parameters())
        lora_optimizer = torch.optim.AdamW(params, lr=1e-4, fused=True if fused else None)

        def step_lora(lora=lora, head=head, lora_optimizer=lora_optimizer, autocast=autocast) -> None:
            lora_optimizer.zero_grad(set_to_none=True)
            with autocast:
                hidden = lora(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                logits = head(hidden.mean(dim=1))
                loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            loss.backward()
            lora_optimizer.step()

        steps[f"peft_lora_{precision}"] = step_lora
    return steps


def _peft_on_fresh_backbone(args: argparse.Namespace, device: torch.device) -> Any:
    from peft import LoraConfig, get_peft_model

    from graphft.backbones import load_backbone

    backbone = load_backbone("minilm", num_hidden_layers=args.layers).train()
    for module in backbone.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return get_peft_model(backbone, LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS)).to(device)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parse(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(NO_CUDA_MESSAGE)
    device = torch.device(args.device)
    from benchmarks.common import interleaved_medians, metadata_markdown, write_results
    from graphft.provenance import run_metadata

    correctness = check_correctness(args, device)
    timing = interleaved_medians(build_steps(args, device), rounds=args.rounds)
    median = timing["median_s"]
    ratios = {
        precision: median[f"graphft_{precision}"] / median[f"peft_lora_{precision}"] for precision in ("fp32", "bf16")
    }
    meta = run_metadata({key: value for key, value in vars(args).items() if key != "no_write"} | {"targets": TARGETS})
    payload = meta | {"correctness": correctness, "median_step_s": median, "ratios_graphft_over_peft": ratios}
    lines = [
        "# GPU check: graphft training on MiniLM-L6 against CPU and PEFT LoRA\n",
        metadata_markdown(meta),
        "| check | max rel. loss error | max rel. logit error | tolerance | ok |",
        "|---|---|---|---|---|",
        *[
            f"| {args.device} {name} vs CPU fp32 | {correctness[name]['max_relative_loss_error']:.2e} | "
            f"{correctness[name]['max_relative_logit_error']:.2e} | {correctness[name]['tolerance']} | "
            f"{correctness[name]['ok']} |"
            for name in ("fp32", "bf16")
        ],
        "",
        "| precision | graphft step (ms) | PEFT LoRA step (ms) | ratio graphft / PEFT |",
        "|---|---|---|---|",
        *[
            f"| {precision} | {1e3 * median[f'graphft_{precision}']:.2f} | "
            f"{1e3 * median[f'peft_lora_{precision}']:.2f} | {ratios[precision]:.3f} |"
            for precision in ("fp32", "bf16")
        ],
        "",
        f"graphft: K=8 r=8 on {', '.join(TARGETS)}, {TASKS} tasks in the batch, router + GNN + heads, fused AdamW on "
        "CUDA; PEFT: LoRA r=8 on the same layers + a linear head. Medians of interleaved rounds.",
        "",
    ]
    print("\n".join(lines))
    if not args.no_write:
        json_path, md_path = write_results(
            "gpu_check" if args.device == "cuda" else "gpu_check_cpu_dry_run", payload, "\n".join(lines)
        )
        print(f"wrote {json_path} and {md_path}")
    failed = [name for name in ("fp32", "bf16") if not correctness[name]["ok"]]
    if failed:
        print(f"correctness check failed for {', '.join(failed)}; see the table above.", file=sys.stderr)
        raise SystemExit(1)
    return payload


if __name__ == "__main__":
    main()
