"""Reads that missed an acknowledged write: a GET that found nothing after the write of its key had been
acknowledged. On a topology with one primary per key this stays 0 (the probe reads the key it has just
written); behind a Service spreading connections over independent primaries (the naive deployment)
the read lands elsewhere and finds nothing, which is what an application would see.

Read from history.csv on its own (harness.rundir.history.history_blocks), in two streamed passes, so
the main history loader keeps what it holds for ten million operations (no values): the first pass collects acknowledged reads with an
empty value (rare wherever reads are consistent), the second, run only when there were any, looks up
when their keys' writes were first acknowledged. A miss counts when that came before the read did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.checker.events import to_s
from harness.rundir.history import history_blocks

SAMPLE_SIZE = 20


@dataclass
class ReadCounts:
    acknowledged: int = 0  # reads the server answered
    missed_acknowledged_write: int = 0  # of those, answers without a value whose write had been acknowledged
    missed_by_pod: dict[str, int] = field(default_factory=dict)  # the pod that answered the missing read
    missed_sample: list[dict] = field(default_factory=list)  # earliest first: key, read_s, acked_s, pod

    def as_dict(self) -> dict:
        return asdict(self)


def count_read_misses(history_csv: str | Path) -> ReadCounts:
    path = Path(history_csv)
    if not path.exists() or path.stat().st_size == 0:
        return ReadCounts()
    counts = ReadCounts()
    empty: list[pa.Table] = []
    for batch in history_blocks(path, ["t_ns", "type", "f", "key", "value", "pod"]):
        read_ok = pc.and_(pc.equal(batch.column("type"), "ok"), pc.equal(batch.column("f"), "read"))
        counts.acknowledged += pc.sum(read_ok).as_py() or 0
        nothing = pc.and_(read_ok, pc.equal(batch.column("value"), ""))
        empty.append(pa.Table.from_batches([batch]).filter(nothing).select(["t_ns", "key", "pod"]))
    reads = pa.concat_tables(empty) if empty else None
    if reads is None or not reads.num_rows:
        return counts
    acked = _first_acks(path, reads.column("key").unique())
    ack_ns = np.array([acked.get(k, np.iinfo(np.int64).max) for k in reads.column("key").to_pylist()], np.int64)
    read_ns = reads.column("t_ns").to_numpy()
    missed = np.flatnonzero(ack_ns < read_ns)
    counts.missed_acknowledged_write = len(missed)
    pods = reads.column("pod").to_pylist()
    for i in missed:
        counts.missed_by_pod[pods[i]] = counts.missed_by_pod.get(pods[i], 0) + 1
    keys = reads.column("key").to_pylist()
    for i in missed[np.argsort(read_ns[missed], kind="stable")][:SAMPLE_SIZE]:
        counts.missed_sample.append({"key": keys[i], "read_s": to_s(read_ns[i]), "acked_s": to_s(ack_ns[i]),
                                     "pod": pods[i]})
    return counts


def _first_acks(path: Path, keys: pa.Array) -> dict[str, int]:
    """key -> t_ns of its first acknowledged write, for the given keys only."""
    first: dict[str, int] = {}
    for batch in history_blocks(path, ["t_ns", "type", "f", "key"]):
        mask = pc.and_(pc.and_(pc.equal(batch.column("type"), "ok"), pc.equal(batch.column("f"), "write")),
                       pc.is_in(batch.column("key"), value_set=keys))
        rows = pa.Table.from_batches([batch]).filter(mask)
        for key, t_ns in zip(rows.column("key").to_pylist(), rows.column("t_ns").to_pylist()):
            first[key] = min(t_ns, first.get(key, t_ns))
    return first
