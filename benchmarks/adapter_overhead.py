"""Train-step overhead of the adapter bank against PEFT LoRA and PEFT Poly on MiniLM-L6.

Methods, timed interleaved in one run (forward + backward + optimizer step, medians):
    a  frozen backbone, activation backward only (the floor)
    b  PEFT LoRA r=8 on query,value
    c  graphft bank K=8, r=8, same targets, one weight vector for the batch
    d  graphft bank with per-example weights from 4 tasks in the batch
    e  PEFT Poly n_skills=8, r=8, 4 tasks

Run: ``python -m benchmarks.adapter_overhead [--rounds 10]``. Writes ``results/adapter_overhead.{json,md}``.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable

import torch
from peft import LoraConfig, PolyConfig, get_peft_model
from torch import nn

from benchmarks.common import interleaved_medians, metadata_markdown, write_results
from graphft.adapters import inject_adapter_banks
from graphft.backbones import load_backbone
from graphft.config import AdapterConfig
from graphft.provenance import run_metadata

TARGETS = ["query", "value"]
TASKS = 4


def _adamw(params: list[nn.Parameter]) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=1e-4)


def build_steps(batch: int, tokens: int, seed: int) -> dict[str, Callable[[], None]]:
    """One closure per method that runs a full training step on the same fixed batch."""
    torch.manual_seed(seed)
    base = load_backbone("minilm")
    input_ids = torch.randint(1000, 20000, (batch, tokens))
    attention_mask = torch.ones(batch, tokens, dtype=torch.long)
    task_ids = torch.arange(batch) % TASKS
    steps: dict[str, Callable[[], None]] = {}

    floor = copy.deepcopy(base).train().requires_grad_(False)
    embeddings = floor.get_input_embeddings()

    def step_floor() -> None:
        inputs = embeddings(input_ids).detach().requires_grad_(True)  # gradients flow through all activations
        floor(inputs_embeds=inputs, attention_mask=attention_mask).last_hidden_state.pow(2).mean().backward()

    steps["a_floor"] = step_floor

    lora = get_peft_model(copy.deepcopy(base).train(), LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS))
    lora_opt = _adamw([p for p in lora.parameters() if p.requires_grad])

    def step_lora() -> None:
        lora_opt.zero_grad(set_to_none=True)
        lora(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.pow(2).mean().backward()
        lora_opt.step()

    steps["b_peft_lora"] = step_lora

    for name, per_example in (("c_graphft_shared", False), ("d_graphft_per_task", True)):
        model = copy.deepcopy(base).train()
        banks = inject_adapter_banks(model, AdapterConfig(num_modules=8, rank=8, target_modules=TARGETS))
        logits = nn.Parameter(torch.zeros(TASKS if per_example else 1, 8))
        optimizer = _adamw([*banks.parameters(), logits])

        def step_graphft(model=model, banks=banks, logits=logits, optimizer=optimizer, per_example=per_example):
            optimizer.zero_grad(set_to_none=True)
            weights = logits.softmax(-1)
            banks.set_module_weights(weights[task_ids] if per_example else weights[0], check=False)
            model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.pow(2).mean().backward()
            optimizer.step()

        steps[name] = step_graphft

    poly_config = PolyConfig(r=8, target_modules=TARGETS, n_tasks=TASKS, n_skills=8, n_splits=1)
    poly = get_peft_model(copy.deepcopy(base).train(), poly_config)
    poly_opt = _adamw([p for p in poly.parameters() if p.requires_grad])

    def step_poly() -> None:
        poly_opt.zero_grad(set_to_none=True)
        out = poly.base_model(input_ids=input_ids, attention_mask=attention_mask, task_ids=task_ids)
        out.last_hidden_state.pow(2).mean().backward()
        poly_opt.step()

    steps["e_peft_poly"] = step_poly
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = build_steps(args.batch, args.tokens, args.seed)
    timing = interleaved_medians(steps, rounds=args.rounds)
    med = timing["median_s"]
    ratios = {
        "c/b": med["c_graphft_shared"] / med["b_peft_lora"],
        "d/b": med["d_graphft_per_task"] / med["b_peft_lora"],
        "c/a": med["c_graphft_shared"] / med["a_floor"],
        "d/a": med["d_graphft_per_task"] / med["a_floor"],
        "d/e": med["d_graphft_per_task"] / med["e_peft_poly"],
        "b/a": med["b_peft_lora"] / med["a_floor"],
        "e/a": med["e_peft_poly"] / med["a_floor"],
    }
    meta = run_metadata(vars(args) | {"targets": TARGETS, "tasks_in_batch": TASKS})
    payload = meta | {"median_step_s": med, "samples_s": timing["samples_s"], "ratios": ratios}
    goals = {"d/b": 1.10, "d/a": 1.15}
    lines = [
        "# Adapter-bank train-step overhead (MiniLM-L6)\n",
        metadata_markdown(meta),
        "| ratio | value | goal |",
        "|---|---|---|",
        *[f"| {k} | {v:.3f} | {'<= ' + str(goals[k]) if k in goals else ''} |" for k, v in ratios.items()],
        "",
        "a floor (activation backward only), b PEFT LoRA r=8, c graphft K=8 r=8 one weight vector, "
        "d graphft per-example weights of 4 tasks, e PEFT Poly 8 skills r=8. Medians of interleaved rounds.",
        "",
    ]
    json_path, md_path = write_results("adapter_overhead", payload, "\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
