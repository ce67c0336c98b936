"""Named suites of built-in tasks, encoded for a backbone's tokenizer."""

from __future__ import annotations

from collections.abc import Callable

from transformers import PreTrainedTokenizerBase

from graphft.errors import TaskError
from graphft.tasks.builtin import TWEET_DOMAIN_RULES, load_bbc_topic, load_tweet_domain
from graphft.tasks.data import MultiTaskData, TaskData
from graphft.tasks.encode import task_from_texts
from graphft.tasks.spec import TaskSpec

__all__ = ["BUILTIN_TASKS", "SUITES", "load_suite", "load_task"]

Loader = Callable[[], tuple[list[str], list[int], list[str]]]

BUILTIN_TASKS: dict[str, Loader] = {
    "bbc_topic": load_bbc_topic,
    **{name: (lambda name=name: load_tweet_domain(name)) for name in TWEET_DOMAIN_RULES},  # type: ignore[misc]
}

SUITES: dict[str, list[str]] = {
    "text-5": ["bbc_topic", *TWEET_DOMAIN_RULES],
}


def load_task(
    name: str,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = 64,
    max_train: int | None = None,
    max_eval: int | None = None,
    seed: int = 0,
) -> TaskData:
    """Load and encode one built-in task (see :mod:`graphft.tasks.builtin`)."""
    if name not in BUILTIN_TASKS:
        raise TaskError(f"unknown built-in task {name!r}; available: {', '.join(BUILTIN_TASKS)}.")
    texts, labels, label_names = BUILTIN_TASKS[name]()
    spec = TaskSpec(name, "classification", label_names)
    return task_from_texts(
        spec, texts, labels, tokenizer, max_length=max_length, max_train=max_train, max_eval=max_eval, seed=seed
    )


def load_suite(
    name: str,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = 64,
    max_train: int | None = None,
    max_eval: int | None = None,
    seed: int = 0,
) -> MultiTaskData:
    """Load a named suite of built-in tasks ('text-5': bbc_topic and the four tweet-sentiment domains)."""
    if name not in SUITES:
        raise TaskError(f"unknown suite {name!r}; available: {', '.join(SUITES)}.")
    return MultiTaskData([load_task(task, tokenizer, max_length, max_train, max_eval, seed) for task in SUITES[name]])
