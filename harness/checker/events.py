"""events.jsonl as a DataFrame, the fault firings it records, and the rule that ties facts to firings.

Attribution rule (used for failed writes and for server events alike): a fact at time t belongs to
the most recent firing that started at or before t, whether or not that firing has ended. So with
overlapping faults, everything after the second start is the second fault's, and a fault's tail
(failures after it healed, a late promotion) stays with it until the next fault starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.rundir import EVENT_COLUMNS, NS


@dataclass(frozen=True)
class Firing:
    fault_id: str
    kind: str
    target: str  # the resolved pod, or pods joined by "," for a partition
    start_s: float
    end_s: float | None  # None: the run ended before the fault was healed

    def as_dict(self) -> dict:
        return {"fault_id": self.fault_id, "kind": self.kind, "target": self.target,
                "start_s": self.start_s, "end_s": self.end_s}


def events_frame(records: list[dict]) -> pd.DataFrame:
    """events.jsonl's records (harness.rundir.read_event_records, read once per analysis) as a frame sorted by `t`."""
    frame = pd.DataFrame.from_records(records, columns=_columns(records))
    return frame.sort_values("t", kind="stable", ignore_index=True)


def _columns(records: list[dict]) -> list[str]:
    columns = list(EVENT_COLUMNS)
    for record in records:
        columns += [k for k in record if k not in columns]
    return columns


def of_type(events: pd.DataFrame, type: str) -> pd.DataFrame:
    return events[events["type"] == type]


def fault_firings(events: pd.DataFrame) -> list[Firing]:
    """One Firing per `fault-start`, ended by the first later `fault-end` with the same fault_id."""
    ends = of_type(events, "fault-end")
    firings = []
    for start in of_type(events, "fault-start").to_dict("records"):
        later = ends[(ends["fault_id"] == start.get("fault_id")) & (ends["t"] >= start["t"])]
        firings.append(Firing(
            fault_id=str(start.get("fault_id")),
            kind=str(start.get("kind")),
            target=_target_text(start.get("pod"), start.get("target")),
            start_s=float(start["t"]),
            end_s=float(later["t"].iloc[0]) if len(later) else None,
        ))
    return sorted(firings, key=lambda f: f.start_s)


def _target_text(pod: object, selector: object) -> str:
    if isinstance(pod, str) and pod:
        return pod
    if isinstance(pod, (list, tuple)) and pod:
        return ",".join(str(p) for p in pod)
    return json.dumps(selector, sort_keys=True) if selector is not None else ""


def owner(firings: list[Firing], times_ns: np.ndarray) -> np.ndarray:
    """Index of the firing each time belongs to (see the module docstring); -1 before the first fault."""
    starts = np.array([to_ns(f.start_s) for f in firings], dtype=np.int64)
    return np.searchsorted(starts, times_ns, side="right") - 1


def to_ns(seconds: float) -> int:
    return int(round(seconds * NS))


def to_s(ns: int | np.integer) -> float:
    return round(int(ns) / NS, 6)
