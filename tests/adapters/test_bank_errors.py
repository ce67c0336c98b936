"""Bad input to the adapter bank raises typed errors that say what is wrong and how to fix it."""

from __future__ import annotations

import pytest
import torch

from graphft.adapters import inject_adapter_banks
from graphft.backbones import tiny_backbone
from graphft.config import AdapterConfig
from graphft.errors import AdapterError, ConfigError, TargetModulesError


def test_unmatched_targets_list_the_candidate_layer_names() -> None:
    with pytest.raises(TargetModulesError, match=r"matched no layer.*query.*value"):
        inject_adapter_banks(tiny_backbone("bert"), AdapterConfig(target_modules=["q_proj"]))


def test_targets_that_are_not_linear_are_rejected() -> None:
    with pytest.raises(TargetModulesError, match="cannot adapt"):
        inject_adapter_banks(tiny_backbone("bert"), AdapterConfig(target_modules=["LayerNorm"]))


def test_invalid_regex_is_reported() -> None:
    with pytest.raises(TargetModulesError, match="not a valid regular expression"):
        inject_adapter_banks(tiny_backbone("bert"), AdapterConfig(target_modules="query("))


@pytest.mark.parametrize(
    ("field", "value"),
    [("num_modules", 0), ("rank", -1), ("rank", 2.5), ("alpha", 0), ("dropout", 1.0), ("target_modules", [])],
)
def test_bad_config_values(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        AdapterConfig(**{field: value})  # type: ignore[arg-type]


def test_unknown_config_key_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'num_modules'"):
        AdapterConfig.from_dict({"num_module": 4})


def test_config_round_trips_through_json() -> None:
    config = AdapterConfig(num_modules=3, rank=2, target_modules=["query"])
    assert AdapterConfig.from_json(config.to_json()) == config


@pytest.fixture
def banks():  # type: ignore[no-untyped-def]
    return inject_adapter_banks(tiny_backbone("bert"), AdapterConfig(num_modules=4, rank=2))


def test_weights_of_the_wrong_shape(banks) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AdapterError, match=r"shape \(k\), \(b, k\) or \(b, n, k\) with k=4"):
        banks.set_module_weights(torch.ones(3))


def test_weights_with_nan(banks) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AdapterError, match="NaN"):
        banks.set_module_weights(torch.tensor([1.0, float("nan"), 0.0, 0.0]))


def test_merging_twice(banks) -> None:  # type: ignore[no-untyped-def]
    banks.merge(torch.ones(4))
    with pytest.raises(AdapterError, match="already merged"):
        banks.merge(torch.ones(4))


def test_unmerge_without_merge(banks) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AdapterError, match="not merged"):
        banks.unmerge()


def test_remove_while_merged(banks) -> None:  # type: ignore[no-untyped-def]
    banks.merge(torch.ones(4))
    with pytest.raises(AdapterError, match="unmerge"):
        banks.remove()


def test_routing_while_merged(banks) -> None:  # type: ignore[no-untyped-def]
    banks.merge(torch.ones(4))
    with pytest.raises(AdapterError, match="unmerge"):
        banks.set_module_weights(torch.ones(4))


def test_injecting_twice(banks) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AdapterError, match="already carries"):
        inject_adapter_banks(banks.model, AdapterConfig())


def test_use_after_remove(banks) -> None:  # type: ignore[no-untyped-def]
    banks.remove()
    with pytest.raises(AdapterError, match="removed"):
        banks.set_module_weights(None)
