"""The run directory's format: its one owner. File names, table columns, writers and tolerant readers.

Everything that writes or reads a run directory goes through this package; nothing else spells a
file name or a column list (docs/run-directory.md describes the files for people). The format's
version is written into meta.json (`format_version`) by the runner and into summary.json by the
checker, so a reader can tell which of the layouts below a directory has.

Format history (bump FORMAT_VERSION and add a line here whenever a file, column or field changes):

- 1: the layout before it carried a version (meta.json without `format_version`). Readers treat a
  directory without one as version 1; everything they read exists in it too.
- 2: `format_version` in meta.json and summary.json. meta.json is written whole by the run that
  owns it, never read back and merged.
- 3: summary.json carries what a report shows besides the numbers, so that a report reads only
  the checker's output: `run` (meta.json's facts), `markers` (role and primary changes, primary
  changes as the servers logged them) and `timeline` (the notable events). A report of a version
  1 or 2 directory falls back to meta.json, events.jsonl and series/*.csv.
  Also in 3 (issue 14, raised to 3 on its own branch and merged into this entry): summary.json
  `reads` (the probe's reads that missed an acknowledged write) and `writes.lost_by_pod`;
  scenario.yaml / meta.json topology `kind: naive` with `instances`. Readers of a directory
  without them show none.
- 4: an upgrade drill (issue 16): events `drill-start` / `drill-end`, each drill step a firing whose
  `kind` is its action (`upgrade`, `switch-over`, `revert`) with `observed` in its `fault-end`, and
  summary.json `drill` (verdict, reasons, steps). Directories of versions 1-3 have no drill: no
  reader needs them to.
  Also in 4 (issue 15, raised to 4 on its own branch and merged into this entry): a capacity
  run (a scenario with a `sweep` section): meta.json `kind: capacity`; its own files capacity/steps.csv, capacity/seconds.csv, capacity/hist/, capacity/memory.json (`capacity`) and
  report.txt; summary.json of schema `redis-harness/capacity-summary/v1` (with `format_version`);
  no history, events or series. A resilience run's files are as in version 3.
- 5: replication-lag.csv (issue 18): with the Kubernetes platform's metrics sidecar on, what each
  primary's redis_exporter said of its replicas, scraped every second during the run; summary.json
  `replication_lag` (per replica: max lag in seconds and bytes, samples). Earlier directories and runs
  without the sidecar have neither: readers show none.
- 6: a capacity run on Kubernetes: capacity/steps.csv `server_cpu_source` (`schedstat` | `info`) and
  `server_info_cpu_s_per_s` (INFO cpu's figure, on every platform); capacity/memory.json `generator`
  (where the requests left from) and `server_cpu_source` spelt out; summary.json `generator` and answers
  `server_cpu_source`, `server_info_cpu_ms_per_1k_ops`. Readers of older directories show none.

Modules: `layout` (RunDir: the names, meta.json, the run clock and id), `columns` (every table's
columns), `writers` (streamed events.jsonl, history.csv, series/; summary.json, tables/),
`readers` (tolerant reads), `history` (history.csv and final.csv into pandas, `keys` its write
keys as integers), `series` (the probe's per-second table from history.csv), `summary` (the
lines summary.json's failed checks are shown as), `capacity` (a capacity run's capacity/ files and
report.txt: meta.json `kind: capacity`).
"""

from __future__ import annotations

from harness.rundir.columns import (DRIVER_ORDER, EVENT_COLUMNS, FINAL_COLUMNS, HISTORY_COLUMNS, LOST_COLUMNS, NS,
                                    REPLICATION_LAG_COLUMNS, SERIES_COLUMNS, TIMELINE_EVENT_TYPES)
from harness.rundir.layout import (EVENTS_FILE, FINAL_FILE, FINAL_STATE_FILE, FORMAT_VERSION, HISTORY_FILE, HTML_FILE,
                                   JUNIT_FILE, LOCUST_LOG, LOST_FILE, META_FILE, OPENLOOP_SECONDS_DIR, REDIS_BENCHMARK_OUT,
                                   SCENARIO_FILE,
                                   SUMMARY_FILE, RunClock, RunDir, fresh_run_path, new_run_id, refuse_used_run_dir)
from harness.rundir.readers import (Read, complete_seconds, in_driver_order, load_series, read_event_records,
                                    read_json_object, read_lost, read_replication_lag, read_scenario_facts,
                                    read_series_csv,
                                    read_series_dir, read_table)
from harness.rundir.summary import headline_lines
from harness.rundir.writers import (EventLog, HistoryWriter, ReplicationLagWriter, write_series, write_summary,
                                    write_tables)

__all__ = [
    "DRIVER_ORDER", "EVENTS_FILE", "EVENT_COLUMNS", "EventLog", "FINAL_COLUMNS", "FINAL_FILE", "FINAL_STATE_FILE",
    "FORMAT_VERSION", "HISTORY_COLUMNS", "HISTORY_FILE", "HTML_FILE", "HistoryWriter", "JUNIT_FILE", "LOCUST_LOG",
    "LOST_COLUMNS", "LOST_FILE", "META_FILE", "NS", "OPENLOOP_SECONDS_DIR", "REDIS_BENCHMARK_OUT", "REPLICATION_LAG_COLUMNS", "Read",
    "ReplicationLagWriter", "RunClock", "RunDir", "SCENARIO_FILE",
    "SERIES_COLUMNS", "SUMMARY_FILE", "TIMELINE_EVENT_TYPES", "complete_seconds", "fresh_run_path", "headline_lines",
    "in_driver_order", "load_series", "new_run_id", "read_event_records", "read_json_object", "read_lost",
    "read_replication_lag", "read_scenario_facts", "read_series_csv", "read_series_dir", "read_table", "refuse_used_run_dir", "write_series",
    "write_summary", "write_tables",
]
