"""Real runs into a results store: five plain repeats of standalone-baseline do not flag each other,
then a sixth with the server deliberately slowed is flagged as a regression.

The slowed server is the same redis-server, started through a wrapper (`topology.server` is a
path) that puts it in a cgroup capped at 1% of one CPU. The server binary choice is not part of
the store's key (the topology hash leaves it out) and the version it reports is unchanged, so
the sixth run lands on the same trend with the same fingerprint: the only difference is a
slower server, which is what must be caught. `ip netns exec` remounts /sys, so the wrapper
reaches the cpu cgroup through a bind mount the test makes and removes.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.report.compare import REGRESSED
from harness.store.db import Store
from harness.store.trends import load_trends
from tests.conftest import needs_redis, needs_root

CPU_CGROUP = Path("/sys/fs/cgroup/cpu")
pytestmark = [needs_redis, needs_root, pytest.mark.slow,
              pytest.mark.skipif(not (CPU_CGROUP / "cpu.cfs_quota_us").exists(),
                                 reason="no cgroup v1 cpu controller to slow the server with")]
ROOT = Path(__file__).resolve().parent.parent
PLAIN_RUNS = 5
RUN_ARGS = ["scenarios/standalone-baseline.yaml", "--duration", "5", "--set", "settle_s=0"]
CPU_QUOTA_PERCENT = 1  # a server twenty times slower or more: far beyond a busy machine's noise


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=180,
                          cwd=ROOT)


@contextmanager
def slowed_server(tmp_path: Path):
    """A redis-server wrapper that joins a CPU-capped cgroup first; everything made is removed after."""
    mount = Path(f"/run/rh-test-cpu-{secrets.token_hex(3)}")
    mount.mkdir()
    subprocess.run(["mount", "--bind", str(CPU_CGROUP), str(mount)], check=True)
    wrapper = tmp_path / "slow-redis-server"
    wrapper.write_text(f"""#!/bin/sh
if [ "$1" != "--version" ]; then
  group={mount}/{mount.name}-$$
  mkdir "$group" && echo 100000 > "$group/cpu.cfs_period_us" && echo {CPU_QUOTA_PERCENT * 1000} > "$group/cpu.cfs_quota_us" \\
    && echo $$ > "$group/cgroup.procs" || exit 1
fi
exec {shutil.which("redis-server")} "$@"
""")
    wrapper.chmod(0o755)
    try:
        yield wrapper
    finally:
        for group in mount.glob(f"{mount.name}-*"):
            group.rmdir()  # the servers are gone after teardown: the groups are empty
        subprocess.run(["umount", str(mount)], check=True)
        mount.rmdir()


def test_plain_repeats_do_not_flag_each_other_and_a_slowed_server_is_flagged(tmp_path: Path):
    store_path = tmp_path / "store"
    for i in range(PLAIN_RUNS):
        ran = cli("run", *RUN_ARGS, "--out", str(tmp_path / f"plain-{i + 1}"), "--store", str(store_path))
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "recorded: " in ran.stdout
    with Store(store_path) as store:
        (trend,) = load_trends(store)
    judged = [v for v in trend.verdicts if any(m.verdict not in ("no baseline", "missing") for m in v.metrics)]
    assert len(judged) == 2  # runs 4 and 5 have >= 3 runs before them
    for verdict in judged:
        assert not verdict.regressed, [(m.name, m.change, m.noise) for m in verdict.regressions]
    plain = cli("trend", "--store", str(store_path))
    print(plain.stdout)  # the fifth plain run against the four before it, for the record (pytest -s)
    assert plain.returncode == 0, plain.stdout + plain.stderr

    with slowed_server(tmp_path) as wrapper:
        slowed = cli("run", *RUN_ARGS, "--set", f"topology.server={wrapper}", "--out", str(tmp_path / "slowed"),
                     "--store", str(store_path))
    assert slowed.returncode in (0, 1), slowed.stdout + slowed.stderr  # an SLO may fail on a slow server
    verdict_md = tmp_path / "verdicts.md"
    judged_run = cli("trend", "--store", str(store_path), "--markdown", str(verdict_md))
    print(judged_run.stdout)  # the figures, for the record (pytest -s)
    assert judged_run.returncode == 1, judged_run.stdout + judged_run.stderr
    with Store(store_path) as store:
        (trend,) = load_trends(store)
    latest = trend.latest
    assert len(trend.runs) == PLAIN_RUNS + 1 and "-standalone-baseline-" in latest.run_ids[0]
    assert not latest.environment_changes  # same key, same fingerprint: only the server's speed changed
    assert latest.verdict_of("throughput.baseline") == REGRESSED
    assert all(m.change < 0 if m.higher_is_better else m.change > 0 for m in latest.regressions)  # all slower
    assert "**regressed**" in verdict_md.read_text()
