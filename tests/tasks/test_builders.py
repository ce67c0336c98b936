"""Bring-your-own-task builders: lists, pandas, CSV, JSONL, datasets; label mapping; bad input; token cache."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from graphft.backbones import load_tokenizer
from graphft.errors import DataError, TaskError
from graphft.tasks.builders import task_from_csv, task_from_dataset, task_from_jsonl, task_from_lists, task_from_pandas
from graphft.tasks.encode import encode_texts

TEXTS = [f"review {i}: {'great stuff' if i % 2 else 'awful thing'} number {i}" for i in range(60)]
NAMES = ["bad" if i % 2 == 0 else "good" for i in range(60)]


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return load_tokenizer("minilm")


def _all_rows(task) -> set[tuple[int, ...]]:  # type: ignore[no-untyped-def]
    return {tuple(row.tolist()) for split in (task.train, task.validation, task.test) for row in split.input_ids}


def test_every_source_gives_the_same_task(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from_lists = task_from_lists("reviews", TEXTS, NAMES, tokenizer, max_length=16)
    assert from_lists.spec.label_names == ["bad", "good"]
    frame = pd.DataFrame({"body": TEXTS, "verdict": NAMES})
    csv_path = tmp_path / "reviews.csv"
    frame.to_csv(csv_path, index=False)
    jsonl_path = tmp_path / "reviews.jsonl"
    jsonl_path.write_text("\n".join(json.dumps({"text": t, "label": y}) for t, y in zip(TEXTS, NAMES, strict=True)))
    others = [
        task_from_pandas(frame, "reviews", tokenizer, text_column="body", label_column="verdict", max_length=16),
        task_from_csv(csv_path, "reviews", tokenizer, text_column="body", label_column="verdict", max_length=16),
        task_from_jsonl(jsonl_path, "reviews", tokenizer, max_length=16),
    ]
    for other in others:
        assert other.spec == from_lists.spec
        for split in ("train", "validation", "test"):
            assert torch.equal(other.split(split).input_ids, from_lists.split(split).input_ids)
            assert torch.equal(other.split(split).labels, from_lists.split(split).labels)


def test_datasets_class_label_names_are_used(tokenizer) -> None:  # type: ignore[no-untyped-def]
    datasets = pytest.importorskip("datasets", reason="the optional `datasets` package is not installed")
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["no", "yes"])})
    dataset = datasets.Dataset.from_dict(
        {"text": TEXTS, "label": [int(name == "good") for name in NAMES]}, features=features
    )
    task = task_from_dataset(dataset, "ds", tokenizer, max_length=16)
    assert task.spec.label_names == ["no", "yes"]
    assert len(task.train) + len(task.validation) + len(task.test) == 60


def test_regression_task_from_lists(tokenizer) -> None:  # type: ignore[no-untyped-def]
    task = task_from_lists("score", TEXTS, [i / 10 for i in range(60)], tokenizer, kind="regression", max_length=16)
    assert task.spec.kind == "regression" and task.train.labels.dtype == torch.float32
    assert task.spec.metric == "spearman"


@pytest.mark.parametrize(
    ("labels", "label_names", "message"),
    [
        (["bad"] * 59 + ["meh"], ["bad", "good"], "label 'meh' is not one of label_names"),
        ([None, *NAMES[1:]], None, "missing labels"),
        ([0] * 59 + [5], ["bad", "good"], r"neither a name .* nor a class id in \[0, 1\]"),
        (["bad"] * 60, None, "at least 2"),
    ],
)
def test_bad_labels(tokenizer, labels: list, label_names: list | None, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TaskError, match=message):
        task_from_lists("bad", TEXTS, labels, tokenizer, label_names=label_names, max_length=16)


def test_text_that_is_not_a_string(tokenizer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TaskError, match=r"must be a str, got int \(7\)"):
        task_from_lists("bad", [*TEXTS[:-1], 7], NAMES, tokenizer, max_length=16)


def test_file_errors_name_the_fix(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\ncaf\xe9 au lait,good\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not valid utf-8.*encoding='latin-1'"):
        task_from_csv(latin, "latin", tokenizer)
    with pytest.raises(DataError, match=r"no column.*'verdict'.*label_column="):
        task_from_csv(latin, "latin", tokenizer, encoding="latin-1", label_column="verdict")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "label": "x"}\n{"text": oops}\n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        task_from_jsonl(broken, "broken", tokenizer)
    with pytest.raises(DataError, match="does not exist"):
        task_from_csv(tmp_path / "nope.csv", "nope", tokenizer)
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    with pytest.raises(TaskError, match="has no rows"):
        task_from_csv(empty, "empty", tokenizer)


def test_token_cache_is_reused_and_keyed_on_the_texts(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    calls = []

    class Counting:
        def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
            self.inner, self.name_or_path, self.padding_side = inner, inner.name_or_path, inner.padding_side

        def __len__(self) -> int:
            return len(self.inner)

        def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(1)
            return self.inner(*args, **kwargs)

    counting = Counting(tokenizer)
    labels = torch.zeros(3, dtype=torch.long)
    first = encode_texts(counting, ["a b", "c", "d e f"], labels, 8, tmp_path)  # type: ignore[arg-type]
    again = encode_texts(counting, ["a b", "c", "d e f"], labels, 8, tmp_path)  # type: ignore[arg-type]
    assert len(calls) == 1 and torch.equal(first.input_ids, again.input_ids)
    encode_texts(counting, ["a b", "c", "d e g"], labels, 8, tmp_path)  # type: ignore[arg-type]
    assert len(calls) == 2 and len(list(tmp_path.glob("tokens-*.safetensors"))) == 2
    for entry in tmp_path.glob("tokens-*.safetensors"):  # a damaged entry is rebuilt, not trusted
        entry.write_bytes(b"garbage")
    rebuilt = encode_texts(counting, ["a b", "c", "d e f"], labels, 8, tmp_path)  # type: ignore[arg-type]
    assert len(calls) == 3 and torch.equal(rebuilt.input_ids, first.input_ids)
