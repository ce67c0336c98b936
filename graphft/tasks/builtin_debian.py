"""Built-in real text tasks read from Debian packages fetched by ``graphft data fetch`` (see
:mod:`graphft.tasks.debian`); nothing of them is stored in this repository.

From ``python3-pattern`` (``usr/share/doc/python3-pattern/test/corpora/``; for personal and research use, read
from the cache at run time only):

- ``mr_sent``: Pang & Lee's sentence polarity data, 2,000 negative and 2,000 positive movie-review sentences.
  This is the file ``polarity-en-pang&lee2.csv``: the corpora README swaps the descriptions of ``pang&lee1``
  (which holds 1,500 full reviews) and ``pang&lee2``.
- ``hedge``: CoNLL-2010 shared task 1, 1,500 certain and 1,500 uncertain Wikipedia sentences
  (``uncertainty-conll2010.csv``; label 1 is certain, as in Pattern's own test of it).
- ``nl_books``: 1,500 negative and 1,500 positive Dutch book reviews from bol.com (``polarity-nl-bol.com.csv``).

From ``r-cran-modeldata`` (``usr/lib/R/site-library/modeldata/data/Rdata.*``, read without R):

- ``finefoods``: Amazon fine-food reviews, "great" vs "other"; modeldata's own split of 4,000 training and
  1,000 test reviews is kept (validation comes out of the training part).

HTML entities in the texts are unescaped, surrounding white space is stripped, and duplicate texts are dropped
(keeping the first).
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from graphft.errors import DataError
from graphft.tasks.debian import debian_package_root
from graphft.tasks.raw import RawTask
from graphft.tasks.rlazyload import read_lazyload_object

__all__ = ["load_finefoods", "load_hedge", "load_mr_sent", "load_nl_books"]

PATTERN_CORPORA = Path("usr/share/doc/python3-pattern/test/corpora")
MODELDATA_DATA = Path("usr/lib/R/site-library/modeldata/data")


def _pattern_csv(file_name: str, label_names: list[str], codes: dict[str, int]) -> RawTask:
    path = debian_package_root("python3-pattern") / PATTERN_CORPORA / file_name
    if not path.is_file():
        raise DataError(f"{path} is missing; fetch the package again: graphft data fetch --force.")
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not valid UTF-8 ({exc}); fetch the package again: graphft data fetch --force."
        ) from exc
    texts, labels, seen = [], [], set()
    for row_number, row in enumerate(csv.reader(io.StringIO(content, newline="")), start=1):
        if len(row) != 2 or row[0] not in codes:
            raise DataError(f"{path}, row {row_number}: expected (label, text) with label in {list(codes)}: {row!r}.")
        text = html.unescape(row[1]).strip()
        if text and text not in seen:
            seen.add(text)
            texts.append(text)
            labels.append(codes[row[0]])
    return RawTask(texts, labels, label_names)


def load_mr_sent() -> RawTask:
    """Movie-review sentence polarity (negative / positive)."""
    return _pattern_csv("polarity-en-pang&lee2.csv", ["negative", "positive"], {"-1": 0, "1": 1})


def load_hedge() -> RawTask:
    """Wikipedia sentences, uncertain (hedged) vs certain."""
    return _pattern_csv("uncertainty-conll2010.csv", ["uncertain", "certain"], {"-1": 0, "1": 1})


def load_nl_books() -> RawTask:
    """Dutch book-review polarity (negative / positive)."""
    return _pattern_csv("polarity-nl-bol.com.csv", ["negative", "positive"], {"-1": 0, "1": 1})


def load_finefoods() -> RawTask:
    """Fine-food review quality ("great" / "other") with modeldata's own train / test split."""
    folder = debian_package_root("r-cran-modeldata") / MODELDATA_DATA
    label_names = ["great", "other"]
    parts = []
    for name in ("training_data", "testing_data"):
        frame = read_lazyload_object(folder, name)
        if not {"review", "score"} <= set(frame.columns):
            raise DataError(f"modeldata's {name} has columns {list(frame.columns)}; expected review and score.")
        reviews = [html.unescape(str(text)).replace("<br />", " ").strip() for text in frame["review"]]
        scores = [str(score) for score in frame["score"]]
        unknown = set(scores) - set(label_names)
        if unknown:
            raise DataError(f"modeldata's {name} has scores {sorted(unknown)}; expected {label_names}.")
        parts.append((reviews, [label_names.index(score) for score in scores]))
    (train_texts, train_labels), (test_texts, test_labels) = parts
    seen_test = set(test_texts)
    kept = [(text, label) for text, label in zip(train_texts, train_labels, strict=True) if text not in seen_test]
    return RawTask(
        [text for text, _ in kept],
        [label for _, label in kept],
        label_names,
        test_texts=test_texts,
        test_labels=test_labels,
    )
