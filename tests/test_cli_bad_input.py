"""Every subcommand against wrong input: exit 2, one line naming the input and the problem, no
traceback, nothing created or deployed. And an unexpected exception: exit 3, one line, a log file.

Exit 1 means "an SLO failed" to CI, so a crash must never end with it; and a typo must never
create a report (`report /does/not/exist` used to write one there and exit 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness import cli
from harness.deployment import Deployment

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = str(ROOT / "scenarios" / "sentinel-primary-kill.yaml")

# (id, argv with {tmp} for the test's directory, what the one line must contain: the input and the problem)
CASES = [
    ("destroy-scenario", ["destroy", SCENARIO], f"{SCENARIO}: is a scenario file"),
    ("status-scenario", ["status", SCENARIO], f"{SCENARIO}: is a scenario file"),
    ("status-not-json", ["status", "{tmp}/inputs/notes.txt"], "{tmp}/inputs/notes.txt: not a deployment.json"),
    ("status-unknown-id", ["status", "no-such-deployment"], "'no-such-deployment': no deployment has that id"),
    ("destroy-ambiguous-id", ["destroy", "amb"], "'amb' is ambiguous: it matches amb-1, amb-2"),
    ("report-missing", ["report", "{tmp}/does/not/exist"], "{tmp}/does/not/exist: no such run directory"),
    ("report-empty", ["report", "{tmp}/inputs/empty"], "{tmp}/inputs/empty: not a run directory (no meta.json"),
    ("report-no-meta", ["report", "{tmp}/inputs/no-meta"], "{tmp}/inputs/no-meta: not a run directory (no meta"),
    ("report-file", ["report", "{tmp}/inputs/notes.txt"], "{tmp}/inputs/notes.txt: not a directory"),
    ("run-set-no-equals", ["run", SCENARIO, "--set", "duration_s"], "--set 'duration_s': expected FIELD.PATH=VALUE"),
    ("run-set-wrong-type", ["run", SCENARIO, "--set", "topology.replicas=many"],
     "topology.replicas: Input should be a valid integer"),
    ("run-set-unknown-path", ["run", SCENARIO, "--set", "topology.colour=red"], "topology.colour: unknown field"),
    ("run-set-into-value", ["run", SCENARIO, "--set", "duration_s.x=1"], "--set duration_s.x: duration_s is a value"),
    ("run-set-list-by-name", ["run", SCENARIO, "--set", "faults.first.at_s=8"],
     "--set faults.first.at_s: faults is a list; index it by number (e.g. faults.0)"),
    ("run-set-list-out-of-range", ["run", SCENARIO, "--set", "faults.7.at_s=8"],
     "--set faults.7.at_s: faults has no entry 7 (indices 0 to 0)"),
    ("run-set-bad-yaml", ["run", SCENARIO, "--set", "slos={"], "--set 'slos={': the value is not valid YAML"),
    ("run-workers-local", ["run", SCENARIO, "--set", "workload.locust.workers=2"],
     "workload.locust.workers: Locust workers run as pods in a Kubernetes cluster; the local platform"),
    ("run-workers-zero", ["run", SCENARIO, "--platform", "kubernetes", "--set", "workload.locust.workers=0"],
     "workload.locust.workers: Input should be greater than or equal to 1"),
    ("run-workers-without-locust", ["run", SCENARIO, "--platform", "kubernetes", "--set", "workload.locust.workers=2",
                                    "--set", "workload.locust.enabled=false"],
     "workload.locust.workers: in-cluster Locust workers need the Locust load itself (enabled: true)"),
    ("run-workers-processes", ["run", SCENARIO, "--platform", "kubernetes", "--set", "workload.locust.workers=2",
                               "--set", "workload.locust.processes=2"],
     "workload.locust.processes: each in-cluster worker pod runs one Locust process; scale with workers"),
    ("run-openloop-workers-local", ["run", SCENARIO, "--set", "workload.openloop.enabled=true", "--set",
                                    "workload.openloop.workers=2"],
     "workload.openloop.workers: generator pods run in a Kubernetes cluster; the local platform"),
    ("run-openloop-workers-processes", ["run", SCENARIO, "--platform", "kubernetes", "--set",
                                        "workload.openloop.enabled=true", "--set", "workload.openloop.workers=2",
                                        "--set", "workload.openloop.processes=2"],
     "workload.openloop.processes: each generator pod runs one process; scale with workers"),
    ("run-benchmark-job-local", ["run", SCENARIO, "--set", "workload.redis_benchmark.enabled=true", "--set",
                                 "workload.redis_benchmark.in_cluster=true"],
     "workload.redis_benchmark.in_cluster: the Job runs in a Kubernetes cluster; the local platform"),
    ("run-benchmark-job-without-benchmark", ["run", SCENARIO, "--platform", "kubernetes", "--set",
                                             "workload.redis_benchmark.in_cluster=true"],
     "workload.redis_benchmark.in_cluster: an in-cluster redis-benchmark Job needs the redis-benchmark load"),
    ("run-dry-run-local", ["run", SCENARIO, "--dry-run"], "--dry-run prints a Kubernetes plan: use it with --platform"),
    ("run-unknown-platform", ["run", SCENARIO, "--platform", "mars"], "--platform: invalid choice: 'mars'"),
    ("run-set-unknown-platform", ["run", SCENARIO, "--set", "platform=mars"], "platform: Input should be 'local'"),
    ("run-used-out", ["run", SCENARIO, "--out", "{tmp}/inputs/no-meta"], "--out {tmp}/inputs/no-meta: already holds"),
    ("run-missing-scenario", ["run", "{tmp}/absent.yaml"], "{tmp}/absent.yaml: no such scenario file"),
    ("run-deployment-as-scenario", ["run", "{tmp}/state/amb-1/deployment.json"],
     "{tmp}/state/amb-1/deployment.json: invalid scenario"),
    ("run-repeat-zero", ["run", SCENARIO, "--repeat", "0"], "--repeat 0: must be 1 or more"),
    ("run-bad-duration", ["run", SCENARIO, "--duration", "soon"], "--duration: invalid float value: 'soon'"),
    ("deploy-directory", ["deploy", "{tmp}/inputs/empty"], "{tmp}/inputs/empty: not a readable scenario file"),
    ("deploy-unknown-platform", ["deploy", SCENARIO, "--platform", "mars"], "--platform: invalid choice: 'mars'"),
    ("validate-missing", ["validate", "{tmp}/absent.yaml"], "{tmp}/absent.yaml: no such scenario file"),
    ("compare-missing", ["compare", "{tmp}/a", "{tmp}/b"], "{tmp}/a: no such run directory"),
    ("compare-empty", ["compare", "{tmp}/inputs/empty", "{tmp}/inputs/empty"], "{tmp}/inputs/empty: no summary.json"),
    ("unknown-command", ["explode"], "invalid choice: 'explode'"),
    ("run-tls-server-without-tls", ["run", SCENARIO, "--set", "topology.tls=true", "--set", "topology.server=redis-6.2"],
     "topology.tls: topology.server 'redis-6.2': redis 6.2.5"),
    ("run-tls-upgrade-to-server-without-tls", ["run", str(ROOT / "scenarios" / "upgrade-cluster-7.0-to-valkey-9.1.yaml"),
                                               "--set", "topology.tls=true"], "faults.0.to 'valkey-9.1': valkey 9.1"),
    ("run-tls-naive", ["run", str(ROOT / "scenarios" / "naive-deployment.yaml"), "--set", "topology.tls=true"],
     "topology.tls: the naive topology's Service is measured without TLS"),
    ("capacity-tls-variant-without-tls", ["run", str(ROOT / "scenarios" / "capacity-tls.yaml"), "--set",
                                          "topology.server=valkey-9.1"], "sweep.variants.1.topology.tls"),
]


def _inputs(tmp: Path) -> None:
    """Bad inputs on disk, and two deployments whose ids share a prefix (never started: no processes)."""
    (tmp / "inputs" / "empty").mkdir(parents=True)
    (tmp / "inputs" / "no-meta").mkdir()
    (tmp / "inputs" / "no-meta" / "history.csv").write_text("t_ns\n")
    (tmp / "inputs" / "notes.txt").write_text("not a deployment\n")
    for name in ("amb-1", "amb-2"):
        Deployment(id=name, platform="local", topology={"kind": "standalone"}, pods=[], client_address="",
                   network="loopback", state_dir=str(tmp / "state" / name), owner_pid=None).save()


def _listing(tmp: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*"))


@pytest.mark.parametrize(("argv", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line(tmp_path, argv, expected):
    _inputs(tmp_path)
    before = _listing(tmp_path)
    env = {**os.environ, "REDIS_HARNESS_STATE": str(tmp_path / "state"), "REDIS_HARNESS_DEPLOYMENT": ""}
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    done = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and done.stdout == "", done.stdout + done.stderr
    assert expected.replace("{tmp}", str(tmp_path)) in lines[0] and "Traceback" not in lines[0]
    assert _listing(tmp_path) == before, "bad input created something"


def test_unexpected_exception_exits_3_with_a_log(monkeypatch, capsys, tmp_path):
    def boom(args):
        raise RuntimeError("something nobody expected\nsecond line")

    monkeypatch.setattr(cli, "cmd_cleanup", boom)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert cli.main(["cleanup"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "RuntimeError: something nobody expected" in err[0] and "Traceback" not in err[0]
    log = Path(err[0].rsplit("traceback in ", 1)[1])
    assert log.parent.parent == tmp_path and "Traceback" in log.read_text() and "boom" in log.read_text()


def test_closed_stdout_stops_quietly(tmp_path):
    """`redis-harness ... | head`: the reader going away is not an unexpected error (exit 3, a traceback log)."""
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", SCENARIO, "--dry-run", "--platform", "kubernetes"],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141, err.decode()
    assert err.decode() == ""
