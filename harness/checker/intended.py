"""When each probe operation was due (open loop), and the probe's offered and achieved rates.

The probe's `driver-start` event carries its schedule: write <seq> of every client is due at
`schedule_start_ns + seq * period_ns` (harness/workload/probe.py). Latency is measured from that
moment, not from the invoke: a client stuck 200 ms behind one slow reply sends its next twenty
writes late, and each of them waited. An operation with no schedule (reads and WAITs after a
write, an unpaced probe, a run recorded before the schedule existed) is due at its invoke.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.checker.events import NS
from harness.rundir.history import History
from harness.rundir.keys import NO_KEY

_SEQ_MASK = (1 << 40) - 1  # key ids are (process << 40) | seq (keys.py)
_WRITE = 0  # code of "write" in History.ops["f"]


def schedule(events: pd.DataFrame) -> tuple[int, int, int] | None:
    """(schedule_start_ns, period_ns, clients) of the probe, or None when it ran unpaced or unrecorded."""
    if not len(events) or "period_ns" not in events:
        return None
    starts = events[(events["type"] == "driver-start") & (events.get("driver") == "probe")]
    for row in starts.to_dict("records"):
        period, start = row.get("period_ns"), row.get("schedule_start_ns")
        if isinstance(period, (int, float)) and period > 0 and isinstance(start, (int, float)):
            return int(start), int(period), int(row.get("clients") or 0)
    return None


def due_ns(history: History, events: pd.DataFrame) -> np.ndarray:
    """Per operation of history.ops, when it was due; never later than its invoke."""
    ops = history.ops
    invoke = ops["invoke_ns"].to_numpy()
    plan = schedule(events)
    if plan is None or history.keys.dictionary is not None:
        return invoke
    start, period, _ = plan
    key_id = ops["key_id"].to_numpy()
    writes = (ops["f"].cat.codes.to_numpy() == _WRITE) & (key_id != NO_KEY)
    due = np.where(writes, start + (key_id & _SEQ_MASK) * period, invoke)
    return np.minimum(due, invoke)


def rates(history: History, events: pd.DataFrame) -> dict[str, float | None]:
    """Offered writes/s (the schedule) and achieved writes/s (invoked over the span the probe ran)."""
    plan = schedule(events)
    offered = round(plan[2] * NS / plan[1], 3) if plan and plan[2] else None
    ops = history.ops
    write_invokes = ops["invoke_ns"].to_numpy()[ops["f"].cat.codes.to_numpy() == _WRITE]
    achieved = None
    if len(write_invokes) > 1:
        first = plan[0] if plan else int(write_invokes.min())
        span = (int(write_invokes.max()) - first) / NS
        achieved = round(len(write_invokes) / span, 3) if span > 0 else None
    return {"offered_writes_per_s": offered, "achieved_writes_per_s": achieved}
