"""From raw texts and labels to encoded, stratified train / validation / test splits.

Axis legend: m examples, n tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import safetensors.torch
import torch
from safetensors import SafetensorError
from sklearn.model_selection import train_test_split
from transformers import PreTrainedTokenizerBase

from graphft.errors import TaskError
from graphft.io_atomic import atomic_path
from graphft.tasks.data import EncodedSplit, TaskData
from graphft.tasks.spec import TaskSpec

__all__ = ["encode_texts", "task_from_texts"]


def encode_texts(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    labels: torch.Tensor,
    max_length: int,
    cache_dir: str | Path | None = None,
) -> EncodedSplit:
    """Tokenise ``texts`` (truncated and padded to ``max_length``), reusing a cached result when there is one.

    The cache key hashes the tokenizer's identity (class, name or path, vocabulary size, padding side), the
    length and every text, so a changed input never hits a stale entry. Entries are safetensors files written
    atomically.

    Shapes:
        - labels: (m) -> EncodedSplit with (m, max_length) ids and mask
    """
    cached = (
        None
        if cache_dir is None
        else Path(cache_dir) / f"tokens-{_cache_key(tokenizer, texts, max_length)}.safetensors"
    )
    if cached is not None and cached.is_file():
        try:
            tensors = safetensors.torch.load_file(str(cached))
            return EncodedSplit(tensors["input_ids"], tensors["attention_mask"], labels)
        except (SafetensorError, KeyError, OSError):
            cached.unlink(missing_ok=True)  # a damaged entry is rebuilt below
    encoded = tokenizer(list(texts), max_length=max_length, truncation=True, padding="max_length", return_tensors="pt")
    split = EncodedSplit(encoded["input_ids"], encoded["attention_mask"], labels)
    if cached is not None:
        with atomic_path(cached) as temporary:
            tensors = {"input_ids": split.input_ids.contiguous(), "attention_mask": split.attention_mask.contiguous()}
            safetensors.torch.save_file(tensors, str(temporary))
    return split


def _cache_key(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> str:
    digest = hashlib.sha256()
    identity = (type(tokenizer).__name__, tokenizer.name_or_path, len(tokenizer), tokenizer.padding_side, max_length)
    digest.update(repr(identity).encode())
    for text in texts:
        digest.update(text.encode("utf-8", errors="surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def task_from_texts(
    spec: TaskSpec,
    texts: Sequence[str],
    labels: Sequence[int] | Sequence[float],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = 64,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    max_train: int | None = None,
    max_eval: int | None = None,
    seed: int = 0,
    test_texts: Sequence[str] | None = None,
    test_labels: Sequence[int] | Sequence[float] | None = None,
    cache_dir: str | Path | None = None,
) -> TaskData:
    """Split (stratified for classification, deterministic under ``seed``) and encode one task.

    Args:
        spec: the task.
        texts: the example texts.
        labels: their labels, class ids (classification) or numbers (regression).
        tokenizer: the backbone's tokenizer.
        max_length: tokens per example.
        validation_fraction: share of the examples in the validation split.
        test_fraction: share of the examples in the test split.
        max_train: optional cap on the train split (after splitting).
        max_eval: optional cap on each evaluation split (after splitting).
        seed: the split's random state.
        test_texts: texts of a predefined test split; ``texts`` then only give train and validation.
        test_labels: labels of the predefined test split.
        cache_dir: where to cache tokenised splits (see :func:`encode_texts`); None (default) does not cache.

    Raises:
        TaskError: empty task, mismatched lengths, labels out of range, a class too rare to split.
    """
    label_tensor = _checked_labels(spec, texts, labels)
    test_label_tensor = None
    if (test_texts is None) != (test_labels is None):
        raise TaskError(f"task {spec.name!r}: give both test_texts and test_labels, or neither.")
    if test_texts is not None and test_labels is not None:
        test_label_tensor = _checked_labels(spec, test_texts, test_labels, "test ")
    classification = spec.kind == "classification"
    indices = list(range(len(texts)))
    stratify = label_tensor.tolist() if classification else None
    try:
        if test_label_tensor is None:
            rest, test = train_test_split(indices, test_size=test_fraction, random_state=seed, stratify=stratify)
            share = validation_fraction / (1.0 - test_fraction)
        else:
            rest, test, share = indices, [], validation_fraction
        rest_labels = [stratify[i] for i in rest] if stratify else None
        train, validation = train_test_split(rest, test_size=share, random_state=seed, stratify=rest_labels)
    except ValueError as exc:
        raise TaskError(
            f"task {spec.name!r} cannot be split into train/validation/test ({exc}); give every class at least "
            "a few examples."
        ) from exc
    if max_train is not None:
        train = train[:max_train]
    if max_eval is not None:
        validation, test = validation[:max_eval], test[:max_eval]
    if test_texts is not None and test_label_tensor is not None:
        test_order = list(range(len(test_texts)))
        if max_eval is not None and max_eval < len(test_order):
            stratify_test = test_label_tensor.tolist() if classification else None
            test_order, _ = train_test_split(test_order, train_size=max_eval, random_state=seed, stratify=stratify_test)
        test_split = encode_texts(
            tokenizer, [test_texts[i] for i in test_order], test_label_tensor[test_order], max_length, cache_dir
        )
    if classification:
        for name, split_labels in (
            ("train", label_tensor[train]),
            ("validation", label_tensor[validation]),
            ("test", test_split.labels if test_texts is not None else label_tensor[test]),
        ):
            missing = set(range(spec.num_labels)) - set(split_labels.tolist())
            if missing:
                labels_missing = ", ".join(spec.label_names[i] for i in sorted(missing))
                raise TaskError(
                    f"task {spec.name!r}: the {name} split has no examples of {labels_missing}; give those classes "
                    "more examples or raise max_train/max_eval."
                )

    def encode(split: list[int]) -> EncodedSplit:
        return encode_texts(tokenizer, [texts[i] for i in split], label_tensor[split], max_length, cache_dir)

    return TaskData(spec, encode(train), encode(validation), test_split if test_texts is not None else encode(test))


def _checked_labels(
    spec: TaskSpec, texts: Sequence[str], labels: Sequence[int] | Sequence[float], part: str = ""
) -> torch.Tensor:
    """``labels`` as a tensor (long for classification), after checking them against ``texts`` and ``spec``."""
    if isinstance(texts, str):
        raise TaskError(f"task {spec.name!r}: {part}texts must be a sequence of strings, not one string.")
    if len(texts) != len(labels):
        raise TaskError(
            f"task {spec.name!r}: {len(texts)} {part}texts but {len(labels)} labels; give one label per text."
        )
    if len(texts) == 0:
        raise TaskError(f"task {spec.name!r} has no {part}examples; give it at least a few labelled texts.")
    bad = next((text for text in texts if not isinstance(text, str)), None)
    if bad is not None or any(text is None for text in texts):
        raise TaskError(f"task {spec.name!r}: every {part}text must be a str, got {type(bad).__name__} ({bad!r}).")
    classification = spec.kind == "classification"
    try:
        label_tensor = torch.tensor(list(labels), dtype=torch.long if classification else torch.float32)
    except (TypeError, ValueError, RuntimeError) as exc:
        kind = "integer class ids" if classification else "numbers"
        raise TaskError(
            f"task {spec.name!r}: {part}labels must be {kind} ({exc}); map names with label_names."
        ) from exc
    if classification:
        present = set(label_tensor.tolist())
        if min(present) < 0 or max(present) >= spec.num_labels:
            raise TaskError(
                f"task {spec.name!r}: {part}labels must be class ids in [0, {spec.num_labels - 1}], got "
                f"{sorted(present)[:10]}."
            )
        if not part and len(present) < 2:
            raise TaskError(f"task {spec.name!r}: all examples have one label; a task needs at least two classes.")
    elif not bool(torch.isfinite(label_tensor).all()):
        raise TaskError(f"task {spec.name!r}: {part}regression targets must be finite numbers (found NaN or inf).")
    return label_tensor
