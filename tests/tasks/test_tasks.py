"""Tasks: specs, splitting and encoding, sampling, and the built-in real tasks read from installed packages."""

from __future__ import annotations

import pytest
import torch

from graphft.backbones import load_tokenizer
from graphft.errors import DataError, TaskError
from graphft.tasks import MultiTaskSampler, TaskSpec, task_probabilities
from graphft.tasks.builtin import load_bbc_topic, load_tweet_domain
from graphft.tasks.encode import task_from_texts
from graphft.tasks.suites import load_suite


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return load_tokenizer("minilm")


def test_splits_are_stratified_deterministic_and_disjoint(tokenizer) -> None:  # type: ignore[no-untyped-def]
    texts = [f"example number {i} {'good' if i % 3 else 'bad'}" for i in range(90)]
    labels = [int(i % 3 != 0) for i in range(90)]
    spec = TaskSpec("toy", label_names=["bad", "good"])
    first = task_from_texts(spec, texts, labels, tokenizer, max_length=16, seed=3)
    second = task_from_texts(spec, texts, labels, tokenizer, max_length=16, seed=3)
    assert torch.equal(first.train.input_ids, second.train.input_ids)
    assert len(first.train) + len(first.validation) + len(first.test) == 90
    for split in (first.validation, first.test):
        assert 0 < float(split.labels.float().mean()) < 1  # both classes present
    train_rows = {tuple(row.tolist()) for row in first.train.input_ids}
    assert not train_rows & {tuple(row.tolist()) for row in first.test.input_ids}


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        ([], [], "no examples"),
        (["a", "b"], [0], "2 texts but 1 labels"),
        (["a"] * 10, [0] * 10, "at least two classes"),
        (["a", "b"], [0, 7], r"class ids in \[0, 1\]"),
    ],
)
def test_bad_task_data(tokenizer, texts: list, labels: list, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TaskError, match=message):
        task_from_texts(TaskSpec("bad", label_names=["x", "y"]), texts, labels, tokenizer)


def test_sampling_probabilities_follow_the_temperature() -> None:
    assert torch.allclose(task_probabilities([100, 400], 1.0), torch.tensor([0.2, 0.8]))
    assert torch.allclose(task_probabilities([100, 400], 2.0), torch.tensor([1 / 3, 2 / 3]))
    with pytest.raises(TaskError, match="no training examples"):
        task_probabilities([10, 0], 1.0)


def test_sampler_cycles_through_every_example_and_resumes_exactly() -> None:
    sampler = MultiTaskSampler([5, 7], batch_size=4, temperature=1.0, seed=0)
    seen: dict[int, list[int]] = {0: [], 1: []}
    for _ in range(3):
        tasks, indices = sampler.next_batch()
        for task, index in zip(tasks.tolist(), indices.tolist(), strict=True):
            seen[task].append(index)
    for task, size in ((0, 5), (1, 7)):
        first_epoch = seen[task][:size]
        assert len(set(first_epoch)) == len(first_epoch)
    state = sampler.state_dict()
    expected = [sampler.next_batch() for _ in range(2)]
    sampler.load_state_dict(state)
    again = [sampler.next_batch() for _ in range(2)]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(expected, again, strict=True))


def test_bbc_topic_loads_from_the_installed_package() -> None:
    raw = load_bbc_topic()
    texts, labels, names = raw.texts, raw.labels, raw.label_names
    assert names == ["business", "entertainment", "politics", "sports", "tech"]
    assert 2000 < len(texts) < 2225  # duplicates dropped
    assert len(set(texts)) == len(texts) and set(labels) == set(range(5))


def test_tweet_domains_are_disjoint_and_three_way() -> None:
    domains = {name: load_tweet_domain(name) for name in ("tw_airline", "tw_apple")}
    for raw in domains.values():
        assert raw.label_names == ["negative", "neutral", "positive"] and set(raw.labels) == {0, 1, 2}
        assert len(raw.texts) > 1000
    assert not set(domains["tw_airline"].texts) & set(domains["tw_apple"].texts)
    with pytest.raises(DataError, match="unknown tweet task"):
        load_tweet_domain("tw_nothing")


def test_unknown_suite(tokenizer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TaskError, match="unknown suite 'text-99'"):
        load_suite("text-99", tokenizer)
