"""Read one object from an R package's lazy-load data store (``data/Rdata.rdx`` + ``Rdata.rdb``) without R.

The ``.rdx`` index is an ordinary serialised R list (``variables``: name -> (offset, length) into the ``.rdb``).
Each ``.rdb`` record is 4 big-endian bytes of uncompressed length, one byte naming the compression ('0' none,
'1' zlib, '2' bzip2, 'Z' xz: raw LZMA2 with R's preset 9e), then the compressed serialisation. Parsing the R
serialisation itself is left to the PyPI package ``rdata``.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import rdata

from graphft.errors import DataError

__all__ = ["read_lazyload_object"]

_XZ_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]


def _decompress(record: bytes, source: Path) -> bytes:
    if len(record) < 5:
        raise DataError(f"{source}: a record of {len(record)} bytes is truncated; fetch the package again.")
    (length,) = struct.unpack(">I", record[:4])
    kind, payload = record[4:5], record[5:]
    try:
        if kind == b"Z":
            data = lzma.decompress(payload, format=lzma.FORMAT_RAW, filters=_XZ_FILTERS)
        elif kind == b"2":
            data = bz2.decompress(payload)
        elif kind == b"1":
            data = zlib.decompress(payload)
        elif kind == b"0":
            data = payload
        else:
            raise DataError(
                f"{source}: unknown compression type {kind!r} in a lazy-load record; the store is damaged or "
                "not an R lazy-load store: fetch the package again (graphft data fetch --force)."
            )
    except (lzma.LZMAError, OSError, zlib.error) as exc:
        raise DataError(f"{source}: cannot decompress a lazy-load record ({exc}); fetch the package again.") from exc
    if len(data) != length:
        raise DataError(f"{source}: record decompressed to {len(data)} bytes, expected {length}; fetch it again.")
    return data


def _convert(data: bytes) -> Any:
    with warnings.catch_warnings():  # rdata warns about R classes it maps to data.frame (tbl_df): harmless here
        warnings.simplefilter("ignore", UserWarning)
        return rdata.conversion.convert(rdata.parser.parse_data(data, expand_altrep=True))


def read_lazyload_object(data_folder: Path, name: str) -> Any:
    """The R object ``name`` from ``data_folder/Rdata.rdx`` + ``Rdata.rdb``, converted by ``rdata``
    (a data frame becomes a ``pandas.DataFrame``).

    Raises:
        DataError: missing files, an unknown object name, or a damaged record.
    """
    index_path, store_path = data_folder / "Rdata.rdx", data_folder / "Rdata.rdb"
    for path in (index_path, store_path):
        if not path.is_file():
            raise DataError(f"{path} is missing; fetch the package again (graphft data fetch --force).")
    index = _convert_index(index_path)
    variables = index["variables"]
    if name not in variables:
        raise DataError(f"{index_path} has no object {name!r}; it has: {', '.join(sorted(map(str, variables)))}.")
    offset, length = (int(value) for value in variables[name])
    with store_path.open("rb") as handle:
        handle.seek(offset)
        record = handle.read(length)
    if len(record) != length:
        raise DataError(f"{store_path} is truncated; fetch the package again (graphft data fetch --force).")
    return _convert(_decompress(record, store_path))


def _convert_index(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            return rdata.read_rds(path)
        except Exception as exc:  # rdata raises several types on damaged input
            raise DataError(f"{path} cannot be read ({exc}); fetch the package again.") from exc
