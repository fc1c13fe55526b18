"""The drill's pure parts on hand-written input: log lines of real servers, events of a drill, lost writes,
and the scenario checks of an `upgrade` fault.

The log lines are copied from Redis 6.2.5, Redis 7.0.15 and Valkey 9.1.2 runs of this harness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from harness.checker.availability import Failover
from harness.checker.checks import RunFacts, upgrade_drill_safe
from harness.checker.drill import drill_verdict
from harness.checker.events import fault_firings
from harness.checker.replication_log import incompatibility, resync_kind
from harness.nemesis.upgrade_plan import legs
from harness.report.drill_section import drill_lines
from harness.scenario import Scenario, format_validation_error

FULL_70 = ("1:S 30 Nov 2026 15:44:37.779 * Partial resynchronization not possible (no cached master)\n"
           "1:S 30 Nov 2026 15:44:37.781 * Full resync from master: 8c1e1a0c:1234\n"
           "1:S 30 Nov 2026 15:44:37.790 * MASTER <-> REPLICA sync: Finished with success\n")
PARTIAL_70 = "1:S 30 Nov 2026 15:44:39.001 * MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.\n"
PARTIAL_VALKEY = "1:S 30 Nov 2026 15:44:39.001 * Successful partial resynchronization with primary.\n"
RDB_62 = ("19687:S 30 Nov 2026 15:51:43.059 * Loading RDB produced by version 7.0.15\n"
          "19687:S 30 Nov 2026 15:51:43.060 # Can't handle RDB format version 10\n"
          "19687:S 30 Nov 2026 15:51:43.060 # Fatal error loading the DB: Invalid argument. Exiting.\n")


def test_resync_kind_is_the_last_one_the_log_records():
    assert resync_kind(FULL_70) == "full"
    assert resync_kind(FULL_70 + PARTIAL_70) == "partial"
    assert resync_kind(PARTIAL_VALKEY) == "partial"
    assert resync_kind(PARTIAL_70 + FULL_70) == "full"
    assert resync_kind("1:M * Ready to accept connections\n") is None


def test_incompatibility_quotes_the_servers_own_line():
    assert incompatibility(RDB_62) == "19687:S 30 Nov 2026 15:51:43.060 # Can't handle RDB format version 10"
    assert incompatibility(FULL_70 + PARTIAL_70) is None


def test_strategies_are_data():
    assert [leg.phases for leg in legs("replicas-first", "all-at-once", "system")] == [
        ("each-replica", "switch-over", "old-primary")]
    there, back = legs("rollback", "all-at-once", "system")
    assert (there.to, back.to) == ("system", None)  # back: each pod's own original server
    (naive,) = legs("naive", "all-at-once", "system")
    assert naive.phases == ("everything",) and not naive.per_shard
    assert legs("naive", "primary-first", "system")[0].phases == ("primary", "each-replica")


def _events(step_two_ok: bool = True) -> pd.DataFrame:
    rows = [
        {"t": 5.0, "type": "drill-start", "fault_id": "0.0", "strategy": "replicas-first", "to": "system",
         "versions": {"redis-0": "redis 6.2.5", "redis-1": "redis 6.2.5"}},
        {"t": 5.1, "type": "fault-start", "fault_id": "0.0/1", "kind": "upgrade", "pod": "redis-1",
         "params": {"action": "upgrade", "step": 1, "from": {"redis-1": "redis 6.2.5"}, "to": "redis 7.0.15"}},
        {"t": 5.6, "type": "fault-verified", "fault_id": "0.0/1", "ok": True, "detail": "redis-1 in sync"},
        {"t": 5.6, "type": "fault-end", "fault_id": "0.0/1", "kind": "upgrade", "pod": "redis-1",
         "observed": {"resync": {"redis-1": "full"}, "link_down_s": {"redis-1": 0.4}}},
        {"t": 5.7, "type": "fault-start", "fault_id": "0.0/2", "kind": "switch-over", "pod": "redis-0",
         "params": {"action": "switch-over", "step": 2, "from": {"redis-0": "redis 6.2.5"}, "to": None}},
        {"t": 7.0, "type": "fault-verified", "fault_id": "0.0/2", "ok": step_two_ok, "detail": "redis-1 is primary"},
        {"t": 7.0, "type": "fault-end", "fault_id": "0.0/2", "kind": "switch-over", "pod": "redis-0",
         "observed": {"resync": {"redis-0": "partial"}, "new_primary": "redis-1"}},
        {"t": 7.1, "type": "drill-end", "fault_id": "0.0", "outcome": "completed", "reason": None,
         "versions": {"redis-0": "redis 6.2.5", "redis-1": "redis 7.0.15"},
         "sentinels": {"sentinel-0": "redis 6.2.5", "sentinel-1": "redis 6.2.5"}},
    ]
    return pd.DataFrame(rows)


def _verdict(events: pd.DataFrame, lost_at_s: list[float]) -> dict:
    firings = fault_firings(events)
    failovers = [Failover(f.fault_id, unavailable_s=1.5 if f.fault_id == "0.0/2" else 0.0) for f in firings]
    lost = pd.DataFrame({"key_id": np.arange(len(lost_at_s)), "pod": ["redis-0"] * len(lost_at_s),
                         "complete_ns": np.array([int(t * 1e9) for t in lost_at_s], np.int64)})
    return drill_verdict(events, firings, failovers, lost)


def test_a_clean_drill_is_safe_with_per_step_figures():
    drill = _verdict(_events(), [])
    assert drill["verdict"] == "safe" and drill["reasons"] == []
    assert drill["total_s"] == 2.1 and drill["total_unavailable_s"] == 1.5
    one, two = drill["steps"]
    assert (one["action"], one["resync"], one["link_down_s"], one["ok"]) == ("upgrade", {"redis-1": "full"},
                                                                              {"redis-1": 0.4}, True)
    assert (two["action"], two["new_primary"], two["unavailable_s"]) == ("switch-over", "redis-1", 1.5)
    facts = RunFacts({}, None, _events(), {}, drill=drill)
    assert upgrade_drill_safe(facts)[0]["status"] == "pass"
    assert drill_lines({"drill": drill})[0].startswith("upgrade drill: SAFE: replicas-first to system: 2 steps")
    assert drill_lines({"drill": drill})[0].endswith("; sentinels not upgraded (still redis 6.2.5)")


def test_lost_writes_belong_to_the_step_that_ended_after_their_acknowledgement():
    drill = _verdict(_events(), [1.0, 5.5, 6.9, 7.05])  # before the drill, step 1, step 2, after the last step
    assert [s["lost_writes"] for s in drill["steps"]] == [2, 1]
    assert drill["lost_writes"] == 4 and drill["verdict"] == "unsafe"
    assert "4 acknowledged writes lost (step 1 (upgrade redis-1): 2, step 2 (switch-over redis-0): 1)" in \
        drill["reasons"]


def test_an_unverified_step_makes_the_drill_unsafe_and_fails_the_check():
    drill = _verdict(_events(step_two_ok=False), [])
    assert drill["verdict"] == "unsafe"
    assert any("step 2 (switch-over redis-0) not verified" in r for r in drill["reasons"])
    assert upgrade_drill_safe(RunFacts({}, None, _events(), {}, drill=drill))[0]["status"] == "fail"


def test_no_drill_no_verdict():
    assert drill_verdict(pd.DataFrame([{"t": 1.0, "type": "load-start"}]), [], [], pd.DataFrame()) is None


def _scenario(topology: dict, **fault) -> None:
    Scenario.model_validate({"name": "d", "duration_s": 30, "topology": topology,
                             "faults": [{"kind": "upgrade", "at_s": 5, "duration_s": 20, **fault}]})


@pytest.mark.parametrize(("topology", "fault", "expected"), [
    ({"kind": "standalone"}, {"to": "redis-6.2"}, "faults.0.strategy: 'replicas-first' needs replicas"),
    ({"kind": "sentinel", "replicas": 1}, {"to": "system"}, "faults.0.to: every Redis pod runs 'system' already"),
    ({"kind": "sentinel", "replicas": 1}, {"to": "redis-7.2"}, "faults.0.to: unknown server 'redis-7.2'"),
    ({"kind": "sentinel", "replicas": 1}, {"to": "redis-6.2", "count": 2, "every_s": 1}, "faults.0.count: an upgrade drill runs once"),
    ({"kind": "sentinel", "replicas": 1, "pod_servers": {"redis-1": "redis-6.2"}},
     {"to": "valkey-9.1", "strategy": "rollback"}, "faults.0.strategy: rollback goes back to the one version"),
])
def test_bad_drills_are_refused_naming_the_field(topology, fault, expected):
    with pytest.raises(ValidationError) as caught:
        _scenario(topology, **fault)
    assert expected in format_validation_error(Path("d.yaml"), caught.value)  # the one line the CLI prints


def test_a_good_drill_validates():
    _scenario({"kind": "cluster", "replicas": 1}, to="valkey-9.1")
    _scenario({"kind": "standalone", "server": "redis-6.2"}, to="system", strategy="naive")


def test_an_incompatibility_followed_by_a_successful_sync_is_over():
    assert incompatibility(RDB_62 + FULL_70) is None  # fed by a primary it can load since
    assert incompatibility(FULL_70 + RDB_62) is not None


def test_the_rdb_version_line_is_quoted_before_the_generic_failure():
    replica_62 = ("1:S 30 Nov 2026 16:12:01.420 * Full resync from master: 8c1e:0\n"
                  "1:S 30 Nov 2026 16:12:01.423 # Can't handle RDB format version 10\n"
                  "1:S 30 Nov 2026 16:12:01.423 # Failed trying to load the MASTER synchronization DB from socket\n")
    assert incompatibility(replica_62).endswith("# Can't handle RDB format version 10")
