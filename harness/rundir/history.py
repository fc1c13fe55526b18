"""Load history.csv and final.csv into pandas, lean enough for ten million operations.

history.csv is read block by block with pyarrow's CSV reader; each block is reduced at once to
integer codes, and only write invokes keep their key text, so memory follows the operation count
rather than the CSV's size. Invokes and completions are then paired per process (a process has at
most one operation outstanding, as in Jepsen), giving one row per operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from harness.rundir.keys import NO_KEY, KeyCodec
from harness.rundir import HISTORY_COLUMNS

TYPES = ("invoke", "ok", "fail", "info")
INVOKE, OK, FAIL, INFO = range(4)
OUTCOMES = TYPES[1:]
FUNCTIONS = ("write", "read", "wait")
WRITE = 0
NO_COMPLETION = -1  # complete_ns of an invoke that never completed (the run died first)

_BLOCK_BYTES = 4 << 20  # the streaming reader holds dozens of blocks: memory grows with this
_TEXT = pa.dictionary(pa.int32(), pa.string())
_SHORTEST_ROW = 12  # bytes of the shortest possible history row, e.g. "1,0,ok,,,,,\n"


@dataclass
class History:
    """One row per operation, ordered by invoke time.

    ops columns: process, f, key_id (the write's key as an int64, see keys.py; NO_KEY when the
    operation is not a write), type (ok / fail / info; an invoke that never completed is `info`),
    completed, invoke_ns, complete_ns (NO_COMPLETION when not completed), pod (who served it: the
    completion's pod, else the invoke's), error. A key written twice has one id: one write, retried.
    """

    ops: pd.DataFrame
    keys: KeyCodec  # turns key ids back into text, and other keys (final.csv's) into ids
    orphan_completions: int = 0  # completions with no invoke before them: ignored
    bad_rows: int = 0  # rows that could not be parsed (a torn last line) or had an unknown type: ignored

    @classmethod
    def empty(cls, bad_rows: int = 0) -> "History":
        none = np.empty(0, np.int32)
        return cls(_ops_frame(
            process=none, f=_categorical(none, list(FUNCTIONS)), key_id=np.empty(0, np.int64),
            outcome=np.empty(0, np.int8),
            invoke_ns=np.empty(0, np.int64), complete_ns=np.empty(0, np.int64),
            pod=_categorical(none, []), error=_categorical(none, []),
        ), KeyCodec(), bad_rows=bad_rows)


def load_history(path: str | Path) -> History:
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return History.empty()
    rows = _read_rows(path)
    return _pair(rows) if rows.n else History.empty(bad_rows=rows.bad)


def load_final(path: str | Path) -> pd.DataFrame:
    """final.csv as key (str), present (bool), pod (category); empty if the run never got that far."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame({"key": pd.Series([], dtype=str), "present": pd.Series([], dtype=bool),
                             "pod": pd.Categorical([])})
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=["key", "present", "pod"],
            column_types={"key": pa.string(), "present": pa.bool_(), "pod": _TEXT},  # 1/0 or true/false
        ),
    )
    return table.to_pandas()


# --------------------------------------------------------------------------- reading


class _Vocabulary:
    """Global integer codes for a text column whose blocks arrive each with its own dictionary."""

    def __init__(self, words: tuple[str, ...] = ()):
        self.words: list[str] = list(words)
        self._index = {w: i for i, w in enumerate(self.words)}

    def codes(self, column: pa.Array) -> np.ndarray:
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        remap = np.array([self._code(w) for w in column.dictionary.to_pylist()], dtype=np.int32)
        return remap[column.indices.to_numpy(zero_copy_only=False)] if len(remap) else np.zeros(len(column), np.int32)

    def _code(self, word: str) -> int:
        if word not in self._index:
            self._index[word] = len(self.words)
            self.words.append(word)
        return self._index[word]


@dataclass
class _Rows:
    """history.csv reduced to arrays in file order, plus the text of write-invoke keys."""

    t_ns: np.ndarray
    process: np.ndarray
    kind: np.ndarray  # index in TYPES; len(TYPES) and above: unknown
    f: np.ndarray
    pod: np.ndarray
    error: np.ndarray
    key_rows: np.ndarray  # row numbers of write invokes, ascending
    keys: pa.ChunkedArray  # their keys, same order
    functions: list[str]
    pods: list[str]
    errors: list[str]
    bad: int

    @property
    def n(self) -> int:
        return len(self.t_ns)


def _read_rows(path: Path) -> _Rows:
    bad = [0]

    def skip(_row: object) -> str:
        bad[0] += 1
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
        convert_options=pacsv.ConvertOptions(
            include_columns=[c for c in HISTORY_COLUMNS if c != "value"],
            column_types={"t_ns": pa.int64(), "process": pa.int32(), "type": _TEXT, "f": _TEXT,
                          "key": pa.string(), "pod": _TEXT, "error": _TEXT},
        ),
    )
    types, functions, pods, errors = _Vocabulary(TYPES), _Vocabulary(FUNCTIONS), _Vocabulary(), _Vocabulary()
    most_rows = path.stat().st_size // _SHORTEST_ROW + 1
    columns = {name: _Growing(dtype, most_rows) for name, dtype in (
        ("t_ns", np.int64), ("process", np.int32), ("kind", np.int8), ("f", np.int16), ("pod", np.int32),
        ("error", np.int32))}
    key_rows = _Growing(np.int64, 1 << 16)
    keys: list[pa.Array] = []
    for batch in reader:
        offset = columns["t_ns"].n
        kind = types.codes(batch.column("type"))
        f = functions.codes(batch.column("f"))
        columns["t_ns"].append(batch.column("t_ns").to_numpy())
        columns["process"].append(batch.column("process").to_numpy())
        columns["kind"].append(np.minimum(kind, len(TYPES)))
        columns["f"].append(f)
        columns["pod"].append(pods.codes(batch.column("pod")))
        columns["error"].append(errors.codes(batch.column("error")))
        write_invokes = (kind == INVOKE) & (f == WRITE)
        key_rows.append(np.flatnonzero(write_invokes) + offset)
        keys.append(batch.column("key").filter(pa.array(write_invokes)))
    arrays = {name: column.array() for name, column in columns.items()}
    return _Rows(
        **arrays, key_rows=key_rows.array(), keys=pa.chunked_array(keys, pa.string()),
        functions=functions.words, pods=pods.words, errors=errors.words, bad=bad[0],
    )


def history_blocks(path: str | Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """history.csv's given columns block by block, every one as text but `t_ns` (int64), for a checker
    that needs a column load_history drops (the read values) without holding the file at once."""
    unknown = sorted(set(columns) - set(HISTORY_COLUMNS))
    if unknown:
        raise ValueError(f"history.csv has no column {', '.join(unknown)}")
    reader = pacsv.open_csv(
        Path(path),
        read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
        convert_options=pacsv.ConvertOptions(
            include_columns=columns,
            column_types={"t_ns": pa.int64(), **{c: pa.string() for c in columns if c != "t_ns"}},
            strings_can_be_null=False,
        ),
    )
    yield from reader


class _Growing:
    """A numpy array filled block by block, allocated once for the most rows the file can hold
    (pages never written cost no memory) and grown by copying only if that bound was short."""

    def __init__(self, dtype: type, capacity: int):
        self.data: np.ndarray = np.empty(capacity, dtype)
        self.n = 0

    def append(self, values: np.ndarray) -> None:
        end = self.n + len(values)
        if end > len(self.data):
            bigger = np.empty(max(end, 2 * len(self.data)), self.data.dtype)
            bigger[: self.n] = self.data[: self.n]
            self.data = bigger
        self.data[self.n : end] = values
        self.n = end

    def array(self) -> np.ndarray:
        return self.data[: self.n]


# --------------------------------------------------------------------------- pairing


def _pair(rows: _Rows) -> History:
    """Pair each invoke with the next row of the same process when that row is a completion."""
    process = _narrow(rows.process)
    order = np.argsort(process, kind="stable")  # keeps file order within a process
    proc_sorted, kind_sorted = process[order], rows.kind[order]
    del process
    is_completion = (kind_sorted > INVOKE) & (kind_sorted < len(TYPES))
    paired = np.zeros(rows.n, bool)  # a completion right after an invoke of the same process
    paired[1:] = is_completion[1:] & (kind_sorted[:-1] == INVOKE) & (proc_sorted[1:] == proc_sorted[:-1])
    orphans = int(np.count_nonzero(is_completion & ~paired))
    del proc_sorted, is_completion

    invoke_pos = np.flatnonzero(kind_sorted == INVOKE)
    del kind_sorted
    next_pos = np.minimum(invoke_pos + 1, rows.n - 1)
    completed = paired[next_pos] & (next_pos != invoke_pos)
    invoke_row = order[invoke_pos]
    complete_row = np.where(completed, order[next_pos], invoke_row)
    del order, paired, invoke_pos, next_pos

    by_time = np.argsort(rows.t_ns[invoke_row], kind="stable")
    invoke_row, complete_row, completed = invoke_row[by_time], complete_row[by_time], completed[by_time]
    del by_time
    key_id, keys = _write_keys(rows, invoke_row)
    complete_pod = rows.pod[complete_row]
    return History(
        _ops_frame(
            process=rows.process[invoke_row],
            f=_categorical(rows.f[invoke_row], rows.functions),
            key_id=key_id,
            outcome=np.where(completed, rows.kind[complete_row] - 1, INFO - 1).astype(np.int8),
            invoke_ns=rows.t_ns[invoke_row],
            complete_ns=np.where(completed, rows.t_ns[complete_row], NO_COMPLETION),
            pod=_categorical(np.where(complete_pod != _code_of(rows.pods, ""), complete_pod, rows.pod[invoke_row]),
                             rows.pods),
            error=_categorical(np.where(completed, rows.error[complete_row], _code_of(rows.errors, "")), rows.errors),
        ),
        keys,
        orphan_completions=orphans,
        bad_rows=rows.bad + int(np.count_nonzero(rows.kind >= len(TYPES))),
    )


def _narrow(process: np.ndarray) -> np.ndarray:
    """int16 process numbers sort by radix, several times faster than int32 on 20M rows."""
    if len(process) and process.min() >= np.iinfo(np.int16).min and process.max() <= np.iinfo(np.int16).max:
        return process.astype(np.int16)
    return process


def _write_keys(rows: _Rows, invoke_row: np.ndarray) -> tuple[np.ndarray, KeyCodec]:
    """Each operation's key id (NO_KEY: not a write), and the codec of those ids."""
    codec, ids = KeyCodec.for_writes(rows.keys)
    pos = np.searchsorted(rows.key_rows, invoke_row)
    hit = pos < len(rows.key_rows)
    hit[hit] = rows.key_rows[pos[hit]] == invoke_row[hit]
    key_id = np.full(len(invoke_row), NO_KEY, np.int64)
    key_id[hit] = ids[pos[hit]]
    return key_id, codec


def arrow_text(values: pd.Index | pd.Series) -> pa.Array:
    """Text values as one pyarrow string array, whatever pandas stores them as."""
    array = pa.array(values.array if hasattr(values, "array") else values, type=pa.string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _code_of(words: list[str], word: str) -> int:
    """The word's code, or -1 (a missing value in a Categorical) when no row had it."""
    return words.index(word) if word in words else -1


def _categorical(codes: np.ndarray, words: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int32, copy=False), categories=pd.Index(words, dtype=str),
                                     validate=False)


def _ops_frame(*, process, f, key_id, outcome, invoke_ns, complete_ns, pod, error) -> pd.DataFrame:
    return pd.DataFrame({
        "process": process,
        "f": f,
        "key_id": key_id,
        "type": pd.Categorical.from_codes(outcome, categories=list(OUTCOMES), validate=False),
        "completed": complete_ns != NO_COMPLETION,
        "invoke_ns": invoke_ns,
        "complete_ns": complete_ns,
        "pod": pod,
        "error": error,
    }, copy=False)


__all__ = ["History", "load_history", "load_final", "arrow_text"]
