"""The servers' own logs as a source of server events, timed by the server, not by when we heard it.

The watcher hears Sentinel over pub/sub and polls CLUSTER NODES; when a partition cuts the harness
off (a primary isolated with the clients on its side), Sentinel's messages sit in TCP
retransmission and the cluster's new primary is out of reach until the heal, so both arrive
seconds late. The logs, copied into `logs/` at teardown, carry each event's time to the
millisecond, so detection and promotion are taken from them when present:

- Sentinel: `+sdown` / `+odown` (detection), `+switch-master` (promotion), from every sentinel's log;
  and `+tilt` / `-tilt`, which a check reads (harness.checker.checks.sentinels_out_of_tilt).
- Cluster: `FAIL message received ...` / `Marking node ... as failing` (detection: the earliest such
  line in any node's log) and `Failover election won` (promotion: the line in the promoted node's
  own log, `configEpoch set ... after successful failover` if that line is missing).

Whose clock counts: each line is stamped by the server that wrote it. On the local platform every
pod shares this machine's clock; on Kubernetes a time is as good as the clocks of the nodes the
pods run on (NTP), which is why a promotion is always read from the promoted node itself.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from harness.checker.pods import pod_addresses

# 2269:X 25 Nov 2026 23:26:41.236 # +sdown master mymaster 10.213.219.10 6379
LINE = re.compile(r"^\d+:X (\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) [#*.-] ([+-][\w-]+) ?(.*)$")
# 3110:M 30 Nov 2026 12:41:08.123 # Failover election won: I'm the new master.
SERVER_LINE = re.compile(r"^\d+:[MSC] (\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) [#*.-] (.*)$")
CLUSTER_DETECTION = re.compile(r"FAIL message received from|Marking node \S+ .*as failing")
CLUSTER_PROMOTION = re.compile(r"Failover election won")
CLUSTER_PROMOTION_FALLBACK = re.compile(r"configEpoch set to \d+ after successful failover")
CLUSTER_STATE = re.compile(r"Cluster state changed: (\w+)")
WANTED = {"+sdown", "-sdown", "+odown", "-odown", "+switch-master", "+failover-end", "+promoted-slave",
          "+convert-to-slave", "+tilt", "-tilt"}


def sentinel_log_events(logs_dir: Path, meta: dict) -> pd.DataFrame:
    """Events like the watcher's `sentinel` ones (source `sentinel-log`), plus a `primary-change` per
    +switch-master whose addresses are pods of meta.json; empty when there are no sentinel logs."""
    start_wall = meta.get("start_wall")
    if start_wall is None or not logs_dir.is_dir():
        return pd.DataFrame()
    offset = meta.get("utc_offset_s", time.localtime().tm_gmtoff)  # Redis logs local time
    pods = pod_addresses(meta.get("pods") or [])
    rows = []
    for log in sorted(logs_dir.glob("sentinel-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            match = LINE.match(line)
            if not match or match.group(2) not in WANTED:
                continue
            wall = log_wall(match.group(1), offset)
            event, detail = match.group(2), match.group(3)
            base = {"t": round(wall - start_wall, 6), "wall": wall, "source": "sentinel-log"}
            rows.append({**base, "type": "sentinel", "event": event, "detail": detail, "sentinel": log.stem})
            change = _primary_change(event, detail, pods)
            if change:
                rows.append({**base, "type": "primary-change", "shard": None, **change})
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows).sort_values("t", kind="stable", ignore_index=True)
    return frame[~_repeated_change(frame)].reset_index(drop=True)


def log_wall(stamp_text: str, utc_offset_s: float) -> float:
    """Unix time of a Redis log stamp (`25 Nov 2026 23:26:41.236`, local time of the server)."""
    stamp = datetime.strptime(stamp_text, "%d %b %Y %H:%M:%S.%f")
    return calendar.timegm(stamp.timetuple()) + stamp.microsecond / 1e6 - utc_offset_s


def _repeated_change(frame: pd.DataFrame) -> pd.Series:
    """Every sentinel logs the same +switch-master: one primary change is the first of them."""
    is_change = frame["type"] == "primary-change"
    new = frame["new"].where(is_change) if "new" in frame else pd.Series(None, index=frame.index)
    previous = new[is_change].shift(1).reindex(frame.index)
    return is_change & (new == previous)


def _primary_change(event: str, detail: str, pods: dict) -> dict | None:
    words = detail.split()  # +switch-master <name> <old ip> <old port> <new ip> <new port>
    if event != "+switch-master" or len(words) < 5 or not (words[2].isdigit() and words[4].isdigit()):
        return None
    old, new = pods.get((words[1], int(words[2]))), pods.get((words[3], int(words[4])))
    return {"old": old, "new": new} if old and new else None


def with_server_logs(events: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """The events with the watcher's Sentinel messages replaced by the logged ones, when there are any."""
    if not len(logged):
        return events
    heard = events[events["type"] != "sentinel"] if len(events) else events
    return pd.concat([heard, logged], ignore_index=True).sort_values("t", kind="stable", ignore_index=True)
