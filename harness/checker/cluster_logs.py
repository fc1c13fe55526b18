"""Redis Cluster failovers timed from the nodes' own logs (rules and whose clock counts: server_logs.py).

The watcher's view of a cluster failover is CLUSTER NODES as the harness can reach it; with the
clients on the minority side of a partition it sees the promotion only after the heal (10 s where
the log says 4 s). So when the pods' logs are in `logs/`:

- each `FAIL message received` / `Marking node ... as failing` line is a `cluster-log` event
  `node-failing` (detection), each `Cluster state changed` a `cluster-state` event;
- each `Failover election won` line is a promotion of the pod whose log it is: it re-times the
  watcher's `primary-change` naming that pod as new (keeping the watcher's `old` and `shard`),
  or becomes a `primary-change` of its own when the watcher never saw it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from harness.checker.server_logs import (
    CLUSTER_DETECTION,
    CLUSTER_PROMOTION,
    CLUSTER_PROMOTION_FALLBACK,
    CLUSTER_STATE,
    SERVER_LINE,
    log_wall,
)

SOURCE = "cluster-log"


def cluster_log_events(logs_dir: Path, meta: dict) -> pd.DataFrame:
    """Detection, cluster-state and promotion events from every cluster pod's log; empty when there are none."""
    start_wall = meta.get("start_wall")
    if start_wall is None or not logs_dir.is_dir() or (meta.get("topology") or {}).get("kind") != "cluster":
        return pd.DataFrame()
    offset = meta.get("utc_offset_s", time.localtime().tm_gmtoff)
    shards = {p.get("name"): p.get("shard") for p in meta.get("pods") or []}
    rows = []
    for pod, shard in shards.items():
        log = logs_dir / f"{pod}.log"
        if not log.exists():
            continue
        rows += _pod_rows(log.read_text(errors="replace").splitlines(), pod, shard, start_wall, offset)
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values("t", kind="stable", ignore_index=True)


def _pod_rows(lines: list[str], pod: str, shard: int | None, start_wall: float, offset: float) -> list[dict]:
    rows, promoted_at = [], None
    for line in lines:
        match = SERVER_LINE.match(line)
        if not match:
            continue
        text = match.group(2)
        wall = log_wall(match.group(1), offset)
        base = {"t": round(wall - start_wall, 6), "wall": wall, "source": SOURCE, "pod": pod}
        if CLUSTER_DETECTION.search(text):
            rows.append({**base, "type": "cluster-log", "event": "node-failing", "detail": text})
        elif (state := CLUSTER_STATE.search(text)) is not None:
            rows.append({**base, "type": "cluster-state", "state": state.group(1)})
        elif CLUSTER_PROMOTION.search(text):
            promoted_at = wall
            rows.append({**base, "type": "primary-change", "shard": shard, "old": None, "new": pod, "detail": text})
        elif CLUSTER_PROMOTION_FALLBACK.search(text) and (promoted_at is None or wall - promoted_at > 1.0):
            rows.append({**base, "type": "primary-change", "shard": shard, "old": None, "new": pod, "detail": text})
    return rows


def with_cluster_logs(events: pd.DataFrame, logged: pd.DataFrame) -> pd.DataFrame:
    """The events with the watcher's cluster-state and primary-change events replaced by the logged ones.

    A logged promotion takes `old` (and `shard`) from the watcher's first primary-change to the same pod
    at or after it, the watcher knowing who was superseded and the log knowing when.
    """
    if not len(logged):
        return events
    if not len(events):
        return logged
    watched = events[events["type"] == "primary-change"]
    logged = logged.copy()
    for column in ("old", "shard"):
        if column in logged:
            logged[column] = logged[column].astype(object)
    for i, row in logged[logged["type"] == "primary-change"].iterrows():
        same = watched[(watched["new"] == row["new"]) & (watched["t"] >= row["t"])]
        if len(same):
            logged.at[i, "old"] = same.iloc[0].get("old")
            if "shard" in same and not pd.isna(same.iloc[0].get("shard")):
                logged.at[i, "shard"] = same.iloc[0]["shard"]
    kept = events[~events["type"].isin(["primary-change", "cluster-state"])]
    return pd.concat([kept, logged], ignore_index=True).sort_values("t", kind="stable", ignore_index=True)
