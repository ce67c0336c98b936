"""Data perturbations change only the train split, by exactly the requested amount, deterministically."""

from __future__ import annotations

import pytest
import torch

from graphft.errors import TuningError
from graphft.tasks.planted import planted_problem
from graphft.tuning.perturb import add_label_noise, imbalance_classes, subsample_train


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return planted_problem(num_clusters=2, tasks_per_cluster=2, train_examples=100, few_shot_examples=20, seed=0).data


def test_subsample_keeps_the_fraction_and_clean_eval_splits(data) -> None:  # type: ignore[no-untyped-def]
    half = subsample_train(data, 0.5, seed=1)
    assert half.sizes("train") == [round(0.5 * n) for n in data.sizes("train")]
    assert half.sizes("validation") == data.sizes("validation")
    assert torch.equal(half[0].test.labels, data[0].test.labels)
    assert torch.equal(subsample_train(data, 0.5, seed=1)[0].train.input_ids, half[0].train.input_ids)
    assert torch.equal(subsample_train(data, 1.0)[0].train.input_ids, data[0].train.input_ids)


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5])
def test_label_noise_flips_exactly_that_many_labels(data, rate: float) -> None:  # type: ignore[no-untyped-def]
    noisy = add_label_noise(data, rate, seed=3)
    for clean, changed in zip(data.tasks, noisy.tasks, strict=True):
        flipped = int((clean.train.labels != changed.train.labels).sum())
        assert flipped == round(rate * len(clean.train))
        assert torch.equal(clean.train.input_ids, changed.train.input_ids)
        assert torch.equal(clean.validation.labels, changed.validation.labels)


def test_imbalance_keeps_the_majority_and_shrinks_the_rest(data) -> None:  # type: ignore[no-untyped-def]
    skewed = imbalance_classes(data, 0.8, seed=0)
    for clean, changed in zip(data.tasks, skewed.tasks, strict=True):
        before = torch.bincount(clean.train.labels, minlength=2)
        after = torch.bincount(changed.train.labels, minlength=2)
        majority = int(before.argmax())
        assert after[majority] == before[majority]
        minority = 1 - majority
        assert after[minority] == max(1, -(-int(before[minority]) * 2 // 10))  # ceil(0.2 * count)


def test_bad_amounts_are_typed_errors(data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TuningError, match="fraction"):
        subsample_train(data, 0.0)
    with pytest.raises(TuningError, match="noise"):
        add_label_noise(data, 1.5)
    with pytest.raises(TuningError, match="imbalance"):
        imbalance_classes(data, 1.0)
