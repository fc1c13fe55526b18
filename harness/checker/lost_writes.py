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
from harness.checker.history import History, arrow_text
from harness.checker.keys import NO_KEY

LOST_SAMPLE_SIZE = 20
_OK, _FAIL, _INFO = range(3)  # codes of History.ops["type"]
_RANK = np.array([2, 0, 1], np.int8)  # ok > info > fail, indexed by type code
_NEVER = np.iinfo(np.int64).max


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

    final_ids = history.keys.ids(arrow_text(final["key"])) if len(final) else np.empty(0, np.int64)
    in_final = _is_in(keys, final_ids)
    absent = _is_in(keys, final_ids[~final["present"].to_numpy()])
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
