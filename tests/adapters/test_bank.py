"""Properties of the adapter bank injected into BERT, GPT-2 (Conv1D), Llama and the real MiniLM."""

from __future__ import annotations

import pytest
import torch
from transformers import PreTrainedModel
from transformers.pytorch_utils import Conv1D

from graphft.adapters import AdapterBank, inject_adapter_banks, trainable_parameters
from graphft.adapters.inject import format_trainable_parameters
from graphft.config import AdapterConfig
from tests.conftest import example_inputs

K, R = 4, 3


def _hidden(model: PreTrainedModel, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(**inputs).last_hidden_state


def _randomise(banks: object, seed: int = 1) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bank in banks.values():  # type: ignore[attr-defined]
            bank.lora_B.copy_(torch.randn(bank.lora_B.shape, generator=generator) * 0.2)


def test_identity_at_init_is_exact(backbone: PreTrainedModel) -> None:
    inputs = example_inputs(backbone)
    with torch.no_grad():
        reference = _hidden(backbone, inputs)
        banks = inject_adapter_banks(backbone, AdapterConfig(num_modules=K, rank=R))
        banks.set_module_weights(torch.rand(4, K))
        adapted = _hidden(backbone, inputs)
    assert len(banks) > 0
    assert torch.equal(reference, adapted)


def test_conv1d_layers_are_wrapped_for_gpt2() -> None:
    from graphft.backbones import tiny_backbone

    model = tiny_backbone("gpt2")
    banks = inject_adapter_banks(model, AdapterConfig(num_modules=K, rank=R, target_modules=["c_attn"]))
    assert len(banks) == 2
    assert all(isinstance(bank.base_layer, Conv1D) for bank in banks.values())


def test_per_example_mixing_equals_running_each_example_alone(backbone: PreTrainedModel) -> None:
    inputs = example_inputs(backbone, batch=4)
    banks = inject_adapter_banks(backbone, AdapterConfig(num_modules=K, rank=R))
    _randomise(banks)
    weights = torch.zeros(4, K)
    weights[0, 0] = 1.0  # module 0 only
    weights[1, 1] = 0.7  # module 1 only
    weights[2, :2] = torch.tensor([0.3, 0.5])  # a mix of the two
    weights[3] = torch.rand(K)  # all modules
    with torch.no_grad():
        banks.set_module_weights(weights)
        mixed = _hidden(backbone, inputs)
        for row in range(4):
            banks.set_module_weights(weights[row])
            alone = _hidden(backbone, {key: value[row : row + 1] for key, value in inputs.items()})
            valid = inputs["attention_mask"][row].bool()
            torch.testing.assert_close(mixed[row][valid], alone[0][valid], atol=1e-5, rtol=1e-4)
        banks.set_module_weights(None)
        base = _hidden(backbone, inputs)
    assert (mixed - base).abs().max() > 1e-3, "the randomised modules must change the output"


def test_per_token_weights_constant_over_tokens_equal_per_example() -> None:
    from graphft.backbones import tiny_backbone

    model = tiny_backbone("llama")
    inputs = example_inputs(model, batch=3, tokens=5)
    banks = inject_adapter_banks(model, AdapterConfig(num_modules=K, rank=R))
    _randomise(banks)
    weights = torch.rand(3, K)
    with torch.no_grad():
        banks.set_module_weights(weights)
        per_example = _hidden(model, inputs)
        banks.set_module_weights(weights[:, None, :].expand(3, 5, K).contiguous())
        per_token = _hidden(model, inputs)
    torch.testing.assert_close(per_example, per_token, atol=1e-6, rtol=1e-5)


def test_modules_with_zero_weight_are_skipped() -> None:
    from graphft.backbones import tiny_backbone

    model = tiny_backbone("bert")
    inputs = example_inputs(model)
    banks = inject_adapter_banks(model, AdapterConfig(num_modules=K, rank=R))
    _randomise(banks)
    with torch.no_grad():
        for bank in banks.values():
            bank.lora_B[2].fill_(float("nan"))  # computing module 2 at all would poison the output
        weights = torch.rand(4, K)
        weights[:, 2] = 0.0
        banks.set_module_weights(weights)
        out = _hidden(model, inputs)
    assert torch.isfinite(out).all()


def test_merge_equals_unmerged_forward_and_unmerge_restores(backbone: PreTrainedModel) -> None:
    inputs = example_inputs(backbone)
    banks = inject_adapter_banks(backbone, AdapterConfig(num_modules=K, rank=R))
    _randomise(banks)
    original = {name: bank.base_layer.weight.detach().clone() for name, bank in banks.items()}
    mix = torch.tensor([0.5, 0.0, 1.25, 0.25])
    with torch.no_grad():
        banks.set_module_weights(mix)
        unmerged = _hidden(backbone, inputs)
        banks.set_module_weights(None)
        banks.merge(mix)
        merged = _hidden(backbone, inputs)
    torch.testing.assert_close(merged, unmerged, atol=1e-5, rtol=1e-4)
    banks.unmerge()
    for name, bank in banks.items():
        torch.testing.assert_close(bank.base_layer.weight, original[name], atol=1e-6, rtol=0)


def test_remove_restores_modules_and_state_dict_exactly(backbone: PreTrainedModel) -> None:
    state = {key: value.clone() for key, value in backbone.state_dict().items()}
    types = {name: type(module) for name, module in backbone.named_modules()}
    flags = {name: p.requires_grad for name, p in backbone.named_parameters()}
    banks = inject_adapter_banks(backbone, AdapterConfig(num_modules=K, rank=R))
    _randomise(banks)
    banks.merge(torch.ones(K))
    banks.unmerge()
    with torch.no_grad():  # unmerge is exact only within rounding: restore the bits for this test
        for name, bank in banks.items():
            bank.base_layer.weight.copy_(state[name + ".weight"])
    restored = banks.remove()
    assert restored is backbone
    assert {name: type(module) for name, module in backbone.named_modules()} == types
    assert {name: p.requires_grad for name, p in backbone.named_parameters()} == flags
    after = backbone.state_dict()
    assert after.keys() == state.keys()
    assert all(torch.equal(after[key], state[key]) for key in state)


def test_gradients_reach_only_adapter_parameters(backbone: PreTrainedModel) -> None:
    inputs = example_inputs(backbone)
    banks = inject_adapter_banks(backbone, AdapterConfig(num_modules=K, rank=R))
    _randomise(banks)
    banks.set_module_weights(torch.rand(4, K))
    outputs = backbone(**inputs)
    pooled = getattr(outputs, "pooler_output", None)  # BERT's pooler is adapted too: put it in the loss
    loss = outputs.last_hidden_state.pow(2).mean() + (0.0 if pooled is None else pooled.pow(2).mean())
    loss.backward()
    adapter_ids = {id(p) for p in banks.parameters()}
    for name, parameter in backbone.named_parameters():
        if id(parameter) in adapter_ids:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        else:
            assert parameter.grad is None and not parameter.requires_grad, name


def test_trainable_parameter_count_matches_the_bank_shapes(backbone: PreTrainedModel) -> None:
    banks = inject_adapter_banks(backbone, AdapterConfig(num_modules=K, rank=R))
    expected = sum(K * R * (bank.in_features + bank.out_features) for bank in banks.values())
    trainable, total = trainable_parameters(backbone)
    assert trainable == expected
    assert total > trainable
    assert f"trainable params: {expected:,d}" in format_trainable_parameters(backbone)


def test_all_linear_leaves_the_lm_head_alone() -> None:
    from graphft.backbones import tiny_backbone

    model = tiny_backbone("gpt2", causal_lm=True)
    banks = inject_adapter_banks(model, AdapterConfig(num_modules=K, rank=R))
    assert "lm_head" not in banks
    assert all(isinstance(bank, AdapterBank) for bank in banks.values())


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (["query", "value"], 4),
        (r".*attention\.self\.(query|key)", 4),
        ("all-linear", 13),  # 2 layers x 6 linears + the pooler
    ],
)
def test_target_module_selection(targets: str | list[str], expected: int) -> None:
    from graphft.backbones import tiny_backbone

    banks = inject_adapter_banks(tiny_backbone("bert"), AdapterConfig(num_modules=K, rank=R, target_modules=targets))
    assert len(banks) == expected


def test_bf16_base_layers_get_bf16_banks() -> None:
    from graphft.backbones import tiny_backbone

    model = tiny_backbone("llama").to(torch.bfloat16)
    inputs = example_inputs(model)
    banks = inject_adapter_banks(model, AdapterConfig(num_modules=K, rank=R))
    _randomise(banks)
    banks.set_module_weights(torch.rand(4, K, dtype=torch.bfloat16))
    out = _hidden(model, inputs)
    assert out.dtype == torch.bfloat16
    assert all(bank.lora_A.dtype == torch.bfloat16 for bank in banks.values())
    out.float().pow(2).mean().backward()
    assert all(bank.lora_B.grad is not None for bank in banks.values())
