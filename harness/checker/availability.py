"""Per fault firing: how long writes were refused as the client saw it, and what the servers said.

Unavailability window: from the first failed or unknown write whose completion belongs to the
firing (the window starts at that operation's invoke time: the client was already waiting) to the
first acknowledged write after the firing's last such failure. An invoke that never completed
counts as a failure seen at its invoke time. Which firing a failure or a server event belongs
to follows events.owner: the most recent firing that started at or before it.
Detection: the first Sentinel `+sdown`/`+odown` about a master, a Cluster node's log marking a
node as failing, or a Cluster node reporting `cluster-state` fail; promotion: the first
`+switch-master` or `primary-change`; both measured from the firing's start. `detected_by` /
`promoted_by` say whose view it is: `server-log` (the servers' own stamps, server_logs.py) or
`harness` (the watcher). A harness observation of a partition's failover made only after the
partition healed is late by construction (the harness was cut off): it is not given as the
event's time; the field stays null, `*_by` is `harness-late` and a note says when it was seen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from harness.checker.events import Firing, owner, to_ns, to_s
from harness.rundir.history import History
from harness.checker.pods import pod_addresses

_OK = 0  # code of "ok" in History.ops["type"]


@dataclass
class Failover:
    fault_id: str
    unavailable_s: float = 0.0
    unavailable_start_s: float | None = None
    unavailable_end_s: float | None = None  # None: writes had not recovered when the history ends
    detected_s: float | None = None
    promoted_s: float | None = None
    new_primary: str | None = None
    detected_by: str | None = None  # "server-log" | "harness" | "harness-late"
    promoted_by: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def failovers(history: History, events: pd.DataFrame, firings: list[Firing], pods: list[dict],
              run_end_s: float) -> tuple[list[Failover], list[str]]:
    """One Failover per firing, in start order, and notes on what could not be measured."""
    notes: list[str] = []
    results = [Failover(f.fault_id) for f in firings]
    if not firings:
        return results, notes
    _unavailability(history, firings, results, run_end_s, notes)
    _server_view(events, firings, results, pod_addresses(pods), notes)
    return results, notes


def _unavailability(history: History, firings: list[Firing], results: list[Failover], run_end_s: float,
                    notes: list[str]) -> None:
    ops = history.ops
    is_write = (ops["f"] == "write").to_numpy()
    outcome = ops["type"].cat.codes.to_numpy()
    invoke_ns, complete_ns = ops["invoke_ns"].to_numpy(), ops["complete_ns"].to_numpy()
    failed = is_write & (outcome != _OK)
    seen_ns = np.where(ops["completed"].to_numpy(), complete_ns, invoke_ns)[failed]
    order = np.argsort(seen_ns, kind="stable")
    seen_ns, failed_invoke_ns = seen_ns[order], invoke_ns[failed][order]
    ok_ns = np.sort(complete_ns[is_write & (outcome == _OK)])

    starts = np.array([to_ns(f.start_s) for f in firings], np.int64)
    bounds = np.append(np.searchsorted(seen_ns, starts, side="left"), len(seen_ns))
    for i, result in enumerate(results):
        first, stop = bounds[i], bounds[i + 1]
        if first == stop:
            continue
        result.unavailable_start_s = to_s(failed_invoke_ns[first])
        recovered = np.searchsorted(ok_ns, seen_ns[stop - 1], side="right")
        if recovered < len(ok_ns):
            result.unavailable_end_s = to_s(ok_ns[recovered])
            result.unavailable_s = round(result.unavailable_end_s - result.unavailable_start_s, 6)
        else:
            result.unavailable_s = round(max(run_end_s - result.unavailable_start_s, 0.0), 6)
            notes.append(f"fault {result.fault_id}: no write was acknowledged after its last failure; "
                         f"unavailable_s counts to the end of the run ({run_end_s:g} s)")


def _server_view(events: pd.DataFrame, firings: list[Firing], results: list[Failover],
                 addresses: dict[tuple[str, int], str], notes: list[str]) -> None:
    if not len(events):
        return
    belongs = owner(firings, np.array([to_ns(t) for t in events["t"]], np.int64))
    for i, row in enumerate(events.to_dict("records")):
        if belongs[i] < 0:
            continue
        firing, result = firings[belongs[i]], results[belongs[i]]
        after_s = round(row["t"] - firing.start_s, 6)
        by = _observer(row, firing)
        if result.detected_by is None and _is_detection(row):
            result.detected_by = by
            if by == "harness-late":
                notes.append(_late_note(result.fault_id, "detection", after_s))
            else:
                result.detected_s = after_s
        if result.promoted_by is None and _is_promotion(row):
            result.promoted_by = by
            result.new_primary = _new_primary(row, addresses, notes)
            if by == "harness-late":
                notes.append(_late_note(result.fault_id, "promotion", after_s))
            else:
                result.promoted_s = after_s


def _observer(event: dict, firing: Firing) -> str:
    if event.get("source") in ("sentinel-log", "cluster-log"):
        return "server-log"
    healed_first = firing.kind == "partition" and firing.end_s is not None and event["t"] >= firing.end_s
    return "harness-late" if healed_first else "harness"


def _late_note(fault_id: str, what: str, after_s: float) -> str:
    return (f"fault {fault_id}: the {what} was seen by the harness only after the partition healed "
            f"({after_s:g} s after the fault started) and no server log has it: its time is unknown, not {after_s:g} s")


def _is_detection(event: dict) -> bool:
    if event["type"] == "sentinel" and event.get("event") in ("+sdown", "+odown"):
        words = _words(event.get("detail"))
        return bool(words) and words[0] == "master"
    if event["type"] == "cluster-log":
        return event.get("event") == "node-failing"
    # A node's own `Cluster state changed: fail` (an isolated primary says it when it loses the majority)
    # is not the cluster detecting the failure; the watcher's cluster-state is its fallback without logs.
    return event["type"] == "cluster-state" and event.get("state") == "fail" and event.get("source") != "cluster-log"


def _is_promotion(event: dict) -> bool:
    return (event["type"] == "sentinel" and event.get("event") == "+switch-master") or event["type"] == "primary-change"


def _new_primary(event: dict, addresses: dict[tuple[str, int], str], notes: list[str]) -> str | None:
    if event["type"] == "primary-change":
        return str(event.get("new")) if isinstance(event.get("new"), str) else None
    words = _words(event.get("detail"))  # <master name> <old ip> <old port> <new ip> <new port>
    if len(words) < 5 or not words[4].isdigit():
        notes.append(f"+switch-master at t={event['t']}: cannot read the new address from {event.get('detail')!r}")
        return None
    host, port = words[3], int(words[4])
    if (host, port) not in addresses:
        notes.append(f"+switch-master at t={event['t']}: {host}:{port} is no pod of meta.json")
        return f"{host}:{port}"
    return addresses[(host, port)]


def _words(detail: object) -> list[str]:
    """The message's words, without a leading event name (`+sdown master mymaster ...` or `master mymaster ...`)."""
    words = str(detail or "").split()
    while words and words[0][:1] in "+-":
        words = words[1:]
    return words
