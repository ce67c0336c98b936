"""RawTask: a task's texts and labels before splitting and tokenisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RawTask"]


@dataclass
class RawTask:
    """Texts and labels of one task, as a loader or a user provides them.

    Attributes:
        texts: the examples (m).
        labels: class ids (classification) or numbers (regression), one per text (m).
        label_names: class names in label-id order (empty for regression).
        test_texts, test_labels: a predefined test split, when the source has one; validation is then carved out
            of ``texts`` and the whole of ``texts`` minus validation is training data.
    """

    texts: Sequence[str]
    labels: Sequence[int] | Sequence[float]
    label_names: list[str]
    test_texts: Sequence[str] | None = None
    test_labels: Sequence[int] | Sequence[float] | None = None
