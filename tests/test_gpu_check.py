"""benchmarks/gpu_check.py: without CUDA it exits at once with a clear message (its GPU path needs a GPU)."""

from __future__ import annotations

import pytest
import torch

from benchmarks import gpu_check


def test_without_cuda_it_exits_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as raised:
        gpu_check.main([])
    assert raised.value.code == gpu_check.NO_CUDA_MESSAGE
    assert "needs a CUDA device" in str(raised.value.code) and "--device cpu" in str(raised.value.code)


@pytest.mark.slow
def test_cpu_dry_run_of_the_whole_script() -> None:
    payload = gpu_check.main(
        [
            "--device",
            "cpu",
            "--steps",
            "2",
            "--batch",
            "4",
            "--tokens",
            "16",
            "--rounds",
            "1",
            "--layers",
            "2",
            "--no-write",
        ]
    )
    assert payload["correctness"]["fp32"]["ok"] and payload["correctness"]["bf16"]["ok"]
    assert set(payload["ratios_graphft_over_peft"]) == {"fp32", "bf16"}
