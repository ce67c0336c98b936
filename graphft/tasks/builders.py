"""Bring your own tasks: build a :class:`TaskData` from Python lists, a pandas DataFrame, a CSV or JSONL file,
or a Hugging Face ``datasets.Dataset``.

Every builder maps labels to class ids the same way: with ``label_names`` given, each label must be one of them
(or an id into them); without, the class names are the sorted distinct labels. Splitting, stratification,
tokenisation and caching are those of :func:`graphft.tasks.encode.task_from_texts`, whose keyword arguments
(``max_length``, ``validation_fraction``, ``test_fraction``, ``max_train``, ``max_eval``, ``seed``,
``cache_dir``) every builder passes on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from graphft.errors import DataError, TaskError
from graphft.tasks.data import TaskData
from graphft.tasks.encode import task_from_texts
from graphft.tasks.spec import TaskSpec

__all__ = ["task_from_csv", "task_from_dataset", "task_from_jsonl", "task_from_lists", "task_from_pandas"]


def _class_ids(name: str, labels: Sequence[Any], label_names: Sequence[str] | None) -> tuple[list[int], list[str]]:
    """Class ids of ``labels`` and the class names, by the rule in the module docstring."""
    if any(label is None or (isinstance(label, float) and label != label) for label in labels):
        raise TaskError(f"task {name!r} has missing labels (None or NaN); drop those rows or fill them in.")
    if label_names is None:
        distinct = sorted({label for label in labels}, key=lambda value: (str(type(value)), value))
        label_names = [str(value) for value in distinct]
        lookup = {value: index for index, value in enumerate(distinct)}
        return [lookup[label] for label in labels], label_names
    names = [str(label_name) for label_name in label_names]
    by_name = {label_name: index for index, label_name in enumerate(names)}
    ids = []
    for label in labels:
        if isinstance(label, str):
            if label not in by_name:
                raise TaskError(f"task {name!r}: label {label!r} is not one of label_names {names}; add it there.")
            ids.append(by_name[label])
        elif isinstance(label, int) and 0 <= label < len(names):
            ids.append(int(label))
        else:
            raise TaskError(
                f"task {name!r}: label {label!r} is neither a name in {names} nor a class id in [0, {len(names) - 1}]."
            )
    return ids, names


def task_from_lists(
    name: str,
    texts: Sequence[str],
    labels: Sequence[Any],
    tokenizer: PreTrainedTokenizerBase,
    kind: str = "classification",
    label_names: Sequence[str] | None = None,
    metric: str = "",
    **split_options: Any,
) -> TaskData:
    """A task from a list of texts and a list of labels (class names, class ids, or numbers for regression).

    Example::

        task = task_from_lists("spam", ["win money now", "see you at 5"], ["spam", "ham"], tokenizer)
    """
    if kind == "classification":
        ids, names = _class_ids(name, labels, label_names)
        spec = TaskSpec(name, kind, names, metric)
        return task_from_texts(spec, texts, ids, tokenizer, **split_options)
    try:
        values = [float(label) for label in labels]
    except (TypeError, ValueError) as exc:
        raise TaskError(f"task {name!r}: regression labels must be numbers ({exc}).") from exc
    return task_from_texts(TaskSpec(name, kind, metric=metric), texts, values, tokenizer, **split_options)


def _require_columns(source: str, columns: list[str], wanted: tuple[str, str]) -> None:
    missing = [column for column in wanted if column not in columns]
    if missing:
        raise DataError(
            f"{source} has no column(s) {missing}; its columns are {columns}. Pass text_column= and "
            "label_column= to name the right ones."
        )


def _columns(name: str, rows: list[dict[str, Any]], text_column: str, label_column: str, source: str) -> tuple:
    if not rows:
        raise TaskError(f"task {name!r}: {source} has no rows; give it at least a few labelled examples.")
    _require_columns(source, list(rows[0]), (text_column, label_column))
    try:
        return [row[text_column] for row in rows], [row[label_column] for row in rows]
    except KeyError as exc:
        raise DataError(f"{source}: a row lacks the column {exc}; every row needs a text and a label.") from None


def task_from_pandas(
    frame: Any,
    name: str,
    tokenizer: PreTrainedTokenizerBase,
    text_column: str = "text",
    label_column: str = "label",
    **options: Any,
) -> TaskData:
    """A task from a pandas DataFrame with a text column and a label column (see :func:`task_from_lists`)."""
    _require_columns("the DataFrame", list(frame.columns), (text_column, label_column))
    labels = [None if value != value else value for value in frame[label_column].tolist()]  # NaN -> None
    return task_from_lists(name, frame[text_column].tolist(), labels, tokenizer, **options)


def _read_text(path: Path, encoding: str) -> str:
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; check the path.")
    try:
        return path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not valid {encoding} (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r}); pass "
            "the file's encoding, e.g. encoding='latin-1' or 'cp1252', or convert the file to UTF-8."
        ) from None
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}; use a Python codec name such as 'utf-8'.") from None


def task_from_csv(
    path: str | Path,
    name: str,
    tokenizer: PreTrainedTokenizerBase,
    text_column: str = "text",
    label_column: str = "label",
    encoding: str = "utf-8",
    delimiter: str = ",",
    **options: Any,
) -> TaskData:
    """A task from a CSV file with a header row (see :func:`task_from_lists`; labels are read as strings,
    or as numbers for ``kind='regression'``).

    Raises:
        DataError: the file is missing, not in ``encoding``, or lacks a column.
    """
    path = Path(path)
    content = _read_text(path, encoding).removeprefix("\ufeff")
    rows = list(csv.DictReader(content.splitlines(), delimiter=delimiter))
    texts, labels = _columns(name, rows, text_column, label_column, str(path))
    return task_from_lists(name, texts, labels, tokenizer, **options)


def task_from_jsonl(
    path: str | Path,
    name: str,
    tokenizer: PreTrainedTokenizerBase,
    text_column: str = "text",
    label_column: str = "label",
    encoding: str = "utf-8",
    **options: Any,
) -> TaskData:
    """A task from a JSON-lines file, one object per line (see :func:`task_from_lists`).

    Raises:
        DataError: the file is missing, not in ``encoding``, has a line that is not a JSON object, or lacks a key.
    """
    path = Path(path)
    rows = []
    for number, line in enumerate(_read_text(path, encoding).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {number} is not valid JSON ({exc.msg}); fix or remove that line.") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}, line {number} is a JSON {type(row).__name__}; each line must be an object.")
        rows.append(row)
    texts, labels = _columns(name, rows, text_column, label_column, str(path))
    return task_from_lists(name, texts, labels, tokenizer, **options)


def task_from_dataset(
    dataset: Any,
    name: str,
    tokenizer: PreTrainedTokenizerBase,
    text_column: str = "text",
    label_column: str = "label",
    **options: Any,
) -> TaskData:
    """A task from a Hugging Face ``datasets.Dataset`` (the optional ``datasets`` package). A ``ClassLabel``
    feature's names become the task's ``label_names`` unless given."""
    _require_columns("the dataset", list(getattr(dataset, "column_names", [])), (text_column, label_column))
    feature = getattr(dataset, "features", {}).get(label_column)
    class_names = getattr(feature, "names", None)
    if options.get("label_names") is None and class_names:
        options["label_names"] = list(class_names)
    return task_from_lists(name, list(dataset[text_column]), list(dataset[label_column]), tokenizer, **options)
