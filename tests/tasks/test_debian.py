"""Debian-packaged corpora: fetch errors, the R lazy-load reader, the four tasks and the text-9 suite.

Tests that read the corpora skip with a visible reason where they have not been fetched (`graphft data fetch`);
CI fetches them in its set-up, so nothing is skipped there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import rdata

from graphft.backbones import load_tokenizer
from graphft.errors import DataError, TaskError
from graphft.tasks.builtin_debian import MODELDATA_DATA, load_finefoods, load_hedge, load_mr_sent, load_nl_books
from graphft.tasks.debian import DEBIAN_PACKAGES, debian_package_root, fetch_debian_packages
from graphft.tasks.rlazyload import read_lazyload_object
from graphft.tasks.suites import SUITES, load_suite, load_task
from graphft.tasks.summary import format_summary, suite_summary


def _fetched() -> bool:
    try:
        for package in DEBIAN_PACKAGES:
            debian_package_root(package)
    except DataError:
        return False
    return True


needs_data = pytest.mark.skipif(not _fetched(), reason="Debian corpora not fetched: run `graphft data fetch`")


def test_missing_package_names_the_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHFT_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"has not been fetched.*graphft data fetch"):
        debian_package_root("python3-pattern")
    with pytest.raises(DataError, match="graphft data fetch"):
        load_mr_sent()
    with pytest.raises(DataError, match="unknown data package"):
        fetch_debian_packages(["python3-nothing"])


def test_fetch_without_apt_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no dpkg
    with pytest.raises(DataError, match=r"apt-get` is not available.*GRAPHFT_DATA_DIR"):
        fetch_debian_packages(["python3-pattern"], cache=tmp_path)
    assert not (tmp_path / "debian" / "python3-pattern").exists()  # nothing half-written


@needs_data
def test_the_four_corpora_have_their_documented_shape() -> None:
    expected = {
        "mr_sent": (load_mr_sent, ["negative", "positive"], 3900),
        "hedge": (load_hedge, ["uncertain", "certain"], 2900),
        "nl_books": (load_nl_books, ["negative", "positive"], 2900),
    }
    for loader, names, at_least in expected.values():
        raw = loader()
        assert raw.label_names == names and len(raw.texts) >= at_least
        assert len(set(raw.texts)) == len(raw.texts) and set(raw.labels) == {0, 1}
        assert 0.45 < sum(raw.labels) / len(raw.labels) < 0.55  # balanced corpora
    sentences = load_mr_sent().texts
    assert max(len(text) for text in sentences) < 1500  # sentences, not the full reviews of pang&lee1
    foods = load_finefoods()
    assert foods.label_names == ["great", "other"]
    assert foods.test_texts is not None and len(foods.test_texts) == 1000
    assert 3900 <= len(foods.texts) <= 4000
    assert not set(foods.texts) & set(foods.test_texts)


@needs_data
def test_lazyload_reader_rejects_damaged_stores(tmp_path: Path) -> None:
    source = debian_package_root("r-cran-modeldata") / MODELDATA_DATA
    frame = read_lazyload_object(source, "testing_data")
    assert list(frame.columns) == ["product", "review", "score"] and len(frame) == 1000
    with pytest.raises(DataError, match="has no object 'nope'"):
        read_lazyload_object(source, "nope")
    shutil.copy(source / "Rdata.rdx", tmp_path / "Rdata.rdx")
    store = (source / "Rdata.rdb").read_bytes()
    (tmp_path / "Rdata.rdb").write_bytes(store[: len(store) // 2])
    with pytest.raises(DataError, match="truncated"):
        read_lazyload_object(tmp_path, "training_data")  # lies in the second half
    offset, length = (int(value) for value in rdata.read_rds(source / "Rdata.rdx")["variables"]["training_data"])
    damaged = bytearray(store)
    damaged[offset + 100 : offset + length] = bytes(length - 100)  # header intact, payload zeroed
    (tmp_path / "Rdata.rdb").write_bytes(bytes(damaged))
    with pytest.raises(DataError, match=r"cannot decompress|decompressed to"):
        read_lazyload_object(tmp_path, "training_data")


@needs_data
def test_text9_suite_loads_with_summary() -> None:
    tokenizer = load_tokenizer("minilm")
    data = load_suite("text-9", tokenizer, max_length=32, max_train=40, max_eval=30)
    assert data.names == SUITES["text-9"] and len(data) == 9
    records = suite_summary(data)
    for record in records:
        assert record["train_size"] == 40 and record["test_size"] == 30
        assert abs(sum(record["label_balance"].values()) - 1.0) < 1e-6
        assert 0.0 < record["majority_baseline"] < 1.0
    table = format_summary(records)
    assert table.count("\n") == 10 and "finefoods" in table
    foods = load_task("finefoods", tokenizer, max_length=32, max_eval=1000)
    assert len(foods.test) == 1000  # modeldata's own test split is kept whole


def test_unknown_task_suggests_a_name() -> None:
    tokenizer = load_tokenizer("minilm")
    with pytest.raises(TaskError, match=r"unknown built-in task 'mr_snt'.*Did you mean 'mr_sent'"):
        load_task("mr_snt", tokenizer)
