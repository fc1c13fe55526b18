"""The columns of the run directory's tables, named once: every writer and reader imports them from here."""

from __future__ import annotations

NS = 1_000_000_000  # history.csv's `t_ns` are run nanoseconds; events' `t` and series' `t_s` run seconds
HISTORY_COLUMNS = ["t_ns", "process", "type", "f", "key", "value", "pod", "error"]  # history.csv
FINAL_COLUMNS = ["key", "present", "value", "pod"]  # final.csv
SERIES_COLUMNS = ["t_s", "driver", "ok", "fail", "info", "p50_ms", "p90_ms", "p99_ms", "max_ms"]  # series/<driver>.csv
LOST_COLUMNS = ["t_s", "pod", "lost"]  # lost.csv
# replication-lag.csv: per scrape of a primary's exporter, one row per replica it names (redis_exporter's
# redis_connected_slave_lag_seconds, and redis_master_repl_offset - redis_connected_slave_offset_bytes)
REPLICATION_LAG_COLUMNS = ["t_s", "pod", "replica", "lag_s", "lag_bytes", "state"]
EVENT_COLUMNS = ["t", "wall", "source", "type"]  # every event of events.jsonl has these; the rest by type
# The events of events.jsonl a person reads in a report's timeline (the checker's summary.json keeps these).
TIMELINE_EVENT_TYPES = ("fault-start", "fault-end", "fault-verified", "sentinel", "role-change", "primary-change",
                        "cluster-state", "driver-error", "run-start", "load-start", "load-end", "heal-all", "settled",
                        "run-end")
DRIVER_ORDER = ["probe", "locust", "redis-benchmark", "openloop"]  # the order drivers are shown in
