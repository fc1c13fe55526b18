"""Lost writes: acknowledged, then absent from the final read (DESIGN.md's definition, exactly).

Counts are per key, since a key is a write's identity: a key written twice (a retry) is one
write, and its outcome is the best one it got: `ok` if any attempt was acknowledged, else `info`
if any attempt's outcome is unknown (it may have been applied), else `fail`. So
attempted = acknowledged + failed + unknown, and only acknowledged keys can be lost; an `info`
write is never lost, present or absent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from harness.checker.events import of_type, to_ns, to_s
from harness.rundir.history import History, arrow_text
from harness.rundir.keys import NO_KEY
from harness.rundir import LOST_COLUMNS

LOST_SAMPLE_SIZE = 20
_OK, _FAIL, _INFO = range(3)  # codes of History.ops["type"]
_RANK = np.array([2, 0, 1], np.int8)  # ok > info > fail, indexed by type code
_NEVER = np.iinfo(np.int64).max
NS_PER_S = 1_000_000_000


@dataclass
class WriteCounts:
    attempted: int = 0
    acknowledged: int = 0
    failed: int = 0
    unknown: int = 0
    lost: int = 0
    lost_sample: list[dict] = field(default_factory=list)  # earliest acknowledged first
    acknowledged_by_demoted_primary: int = 0
    acknowledged_by_demoted_primary_lost: int = 0
    unchecked: int = 0  # acknowledged keys with no row in final.csv: neither lost nor known present

    def as_dict(self) -> dict:
        return asdict(self)


def count_writes(history: History, final: pd.DataFrame, events: pd.DataFrame) -> WriteCounts:
    ops = history.ops
    writes = ops[ops["key_id"].to_numpy() != NO_KEY]
    if not len(writes):
        return WriteCounts()
    keys, codes = np.unique(writes["key_id"].to_numpy(), return_inverse=True)  # distinct keys, sorted
    outcome = writes["type"].cat.codes.to_numpy()
    best = np.full(len(keys), -1, np.int8)
    np.maximum.at(best, codes, _RANK[outcome])
    acked = best == _RANK[_OK]

    ok = outcome == _OK
    first_ack_ns = np.full(len(keys), _NEVER, np.int64)
    np.minimum.at(first_ack_ns, codes[ok], writes["complete_ns"].to_numpy()[ok])

    in_final, absent = _in_final(history, keys, final)
    lost = acked & absent
    demoted = _acked_by_demoted_primary(writes[ok], events)
    demoted_keys = np.unique(codes[ok][demoted])
    return WriteCounts(
        attempted=len(keys),
        acknowledged=int(acked.sum()),
        failed=int((best == _RANK[_FAIL]).sum()),
        unknown=int((best == _RANK[_INFO]).sum()),
        lost=int(lost.sum()),
        lost_sample=_sample(history, keys, np.flatnonzero(lost), first_ack_ns),
        acknowledged_by_demoted_primary=len(demoted_keys),
        acknowledged_by_demoted_primary_lost=int(lost[demoted_keys].sum()),
        unchecked=int((acked & ~in_final).sum()),
    )


def lost_per_second(lost: pd.DataFrame) -> pd.DataFrame:
    """Columns t_s, pod, lost: acknowledged writes later lost (`lost_first_acks`), by the second and the
    pod of their first acknowledgement, so the report can draw a split-brain where it happened (lost.csv)."""
    columns = LOST_COLUMNS
    if not len(lost):
        return pd.DataFrame({c: pd.Series([], dtype=str if c == "pod" else np.int64) for c in columns})
    table = (lost.assign(t_s=lost["complete_ns"] // NS_PER_S).groupby(["t_s", "pod"]).size()
             .rename("lost").reset_index())
    return table[columns].astype({"t_s": np.int64, "lost": np.int64})


def lost_first_acks(history: History, final: pd.DataFrame) -> pd.DataFrame:
    """One row per lost key: key_id, complete_ns and pod of its first acknowledgement."""
    ops = history.ops
    ok = (ops["key_id"].to_numpy() != NO_KEY) & (ops["type"].cat.codes.to_numpy() == _OK)
    acks = pd.DataFrame({"key_id": ops["key_id"].to_numpy()[ok], "complete_ns": ops["complete_ns"].to_numpy()[ok],
                         "pod": ops["pod"].astype(str).to_numpy()[ok]})
    if not len(acks) or not len(final):
        return acks.iloc[:0]
    first = acks.sort_values("complete_ns", kind="stable").drop_duplicates("key_id")
    keys = first["key_id"].to_numpy()
    order = np.argsort(keys, kind="stable")
    _, absent = _in_final(history, keys[order], final)
    return first.iloc[order[absent]]


def _in_final(history: History, sorted_keys: np.ndarray, final: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Which of the sorted key ids final.csv has a row for, and which it has as absent."""
    final_ids = history.keys.ids(arrow_text(final["key"])) if len(final) else np.empty(0, np.int64)
    return _is_in(sorted_keys, final_ids), _is_in(sorted_keys, final_ids[~final["present"].to_numpy()])


def _is_in(sorted_ids: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Which of the sorted ids appear among the candidates."""
    found = np.zeros(len(sorted_ids), bool)
    pos = np.searchsorted(sorted_ids, candidates)
    inside = pos < len(sorted_ids)
    pos, candidates = pos[inside], candidates[inside]
    found[pos[sorted_ids[pos] == candidates]] = True
    return found


def _sample(history: History, keys: np.ndarray, lost: np.ndarray, first_ack_ns: np.ndarray) -> list[dict]:
    earliest = lost[np.argsort(first_ack_ns[lost], kind="stable")[:LOST_SAMPLE_SIZE]]
    text = history.keys.text(keys[earliest]).to_pylist()
    return [{"key": key, "acked_s": to_s(first_ack_ns[i])} for key, i in zip(text, earliest)]


def _acked_by_demoted_primary(acks: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """Which acknowledgements came from a pod after another pod had been made primary of its shard.

    That is the split-brain window: the watchers' `primary-change` event (Sentinel's
    +switch-master, or the cluster's new slot owner) named someone else, yet this pod still
    acknowledged writes, which it will discard when it rejoins as a replica. A pod's shard is the
    one of the primary-change events that name it; a pod no change names was never superseded.
    """
    demoted = np.zeros(len(acks), bool)
    changes = of_type(events, "primary-change")
    if not len(changes) or not len(acks):
        return demoted
    shard = changes["shard"] if "shard" in changes else pd.Series(None, index=changes.index, dtype=object)
    shard_key = pd.Series(["-" if pd.isna(v) else str(v) for v in shard], index=changes.index)  # null: one shard
    change_ns = np.array([to_ns(t) for t in changes["t"]], np.int64)
    pod_codes = acks["pod"].cat.codes.to_numpy()
    ack_ns = acks["complete_ns"].to_numpy()
    for pod in acks["pod"].cat.categories:
        named = (changes["old"] == pod) | (changes["new"] == pod)
        for shard in shard_key[named].unique():
            in_shard = (shard_key == shard).to_numpy()
            times, new = change_ns[in_shard], changes["new"].to_numpy()[in_shard]
            mine = pod_codes == acks["pod"].cat.categories.get_loc(pod)
            latest = np.searchsorted(times, ack_ns[mine], side="right") - 1  # the change in force at the ack
            superseded = (latest >= 0) & (new[np.maximum(latest, 0)] != pod)
            demoted[mine] |= superseded
    return demoted
