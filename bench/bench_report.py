"""Report generation time and peak memory for a 1-hour run (targets: < 10 s, < 1 GiB).

    python bench/bench_report.py [--keep DIR]

The run directory comes from tests/synthetic_run.py: 3,600 s, three drivers (probe, Locust,
redis-benchmark), six primary kills, and a probe history of one million rows. `build_report`
runs in a fresh child process, whose VmHWM is the report's own peak RSS, imports included. (Not
ru_maxrss: Linux carries the parent's peak into a child's ru_maxrss across fork/vfork + exec, so
it would report the generator's memory.)
Two cases: the checker's per-second tables present (the normal path), and series/probe.csv
missing, so the probe's seconds are rebuilt from the million history rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from synthetic_run import SyntheticFault, make_run  # noqa: E402
from outcome import Outcome, add_quick  # noqa: E402

DURATION_S = 3600.0
HISTORY_ROWS = 1_000_000
FAULTS = [SyntheticFault(at_s=300.0 + 600.0 * i, duration_s=60.0) for i in range(6)]
CHILD = """
import resource, sys, time
t0 = time.perf_counter()
from harness.report import build_report
build_report(sys.argv[1])
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(f"{seconds:.3f} {usage.ru_utime + usage.ru_stime:.3f} {peak_kib}")
"""


def generate(path: Path, with_probe_series: bool, history_rows: int = HISTORY_ROWS) -> None:
    probe_ops_per_s = (history_rows / 2 + 3) / (DURATION_S - 2.0)  # two rows an operation; load starts at 2 s
    make_run(path, duration_s=DURATION_S, throughput=2000.0, probe_ops_per_s=probe_ops_per_s, faults=FAULTS,
             lost_writes=5, write_probe_series=with_probe_series, seed=1)


def measure(run_dir: Path) -> tuple[float, float, float]:
    """(wall seconds and CPU seconds of build_report including imports, peak RSS in MiB) of a fresh child."""
    child = subprocess.run([sys.executable, "-c", CHILD, str(run_dir)], capture_output=True, text=True)
    if child.returncode != 0:
        raise SystemExit(f"build_report failed in the child (exit {child.returncode}):\n{child.stderr}")
    seconds, cpu, peak_kib = child.stdout.split()
    return float(seconds), float(cpu), int(peak_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the run directories here and keep them")
    add_quick(parser)
    args = parser.parse_args()
    outcome = Outcome(args.quick)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        cases = [("checker tables present", root / "complete", True),
                 ("probe series rebuilt from history.csv", root / "no-probe-series", False)]
        started = time.perf_counter()
        for _, path, with_series in cases:
            generate(path, with_series, 50_000 if args.quick else HISTORY_ROWS)
        rows = sum(1 for _ in open(cases[0][1] / "history.csv")) - 1
        print(f"generated 2 run directories in {time.perf_counter() - started:.1f} s: {DURATION_S:.0f} s, "
              f"3 drivers, {len(FAULTS)} faults, {rows:,} history rows")
        print("report generation (build_report: plots, report.html, junit.xml; fresh process, imports included)")
        for label, path, _ in cases:
            seconds, cpu, peak_mib = measure(path)
            html_kib = (path / "report.html").stat().st_size / 1024
            verdict = "OK" if seconds < 10 and peak_mib < 1024 else "OVER TARGET"
            page = (path / "report.html").read_text()
            outcome.correct("data:image/png;base64," in page and (path / "junit.xml").stat().st_size > 0,
                            f"{label}: report.html with its plots, and junit.xml")
            outcome.target(verdict == "OK", f"{label}: < 10 s and < 1024 MiB")
            print(f"  {label:<40} {seconds:6.2f} s wall ({cpu:5.2f} s CPU)   peak RSS {peak_mib:7.1f} MiB   "
                  f"report.html {html_kib:5.0f} KiB   {verdict}")
        print(f"targets: < 10 s and < 1024 MiB   (load average while measuring: {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs)")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    outcome.finish()


if __name__ == "__main__":
    main()
