"""What the preStop hand-over buys: the graceful primary delete with the hook off, then on, on a cluster.

Target (issue 18): with the hook on, under 2 s of refused writes (against about down-after plus the
failover without it) and 0 acknowledged writes lost. Runs `scenarios/sentinel-primary-delete.yaml`
twice with `redis-harness run --platform kubernetes` (the REDIS_HARNESS_K8S_* variables choose the
cluster access, as for every run), then `redis-harness compare OFF ON`, which prints both
unavailability windows and lost-write counts side by side.

    python bench/bench_prestop.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from outcome import Outcome, add_quick

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "sentinel-primary-delete.yaml"
TARGET_S = 2.0


def run(out: Path, hook: bool, quick: bool) -> dict:
    argv = [sys.executable, "-m", "harness.cli", "run", str(SCENARIO), "--platform", "kubernetes", "--out", str(out),
            "--set", f"topology.prestop_failover={str(hook).lower()}"]
    if quick:
        argv += ["--duration", "25"]
    subprocess.run(argv, cwd=ROOT, timeout=900)
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, help="keep both run directories here (default: a temporary one)")
    add_quick(parser)
    args = parser.parse_args()
    outcome = Outcome(args.quick)
    base = args.out or Path(tempfile.mkdtemp(prefix="bench-prestop-"))
    summaries = {hook: run(base / ("hook-on" if hook else "hook-off"), hook, args.quick) for hook in (False, True)}
    for hook, summary in summaries.items():
        window = summary["failover"][0]
        print(f"hook {'on ' if hook else 'off'}: unavailable {window['unavailable_s']:.2f} s (promoted "
              f"{window['promoted_s']} s), {summary['writes']['lost']} of {summary['writes']['acknowledged']} "
              f"acknowledged writes lost, verdict {summary['verdict']}")
    subprocess.run([sys.executable, "-m", "harness.cli", "compare", str(base / "hook-off"), str(base / "hook-on")],
                   cwd=ROOT, timeout=120)
    on, off = (summaries[h]["failover"][0]["unavailable_s"] for h in (True, False))
    outcome.correct(all(s["verdict"] == "pass" for s in summaries.values()), "both runs pass (0 writes lost)")
    outcome.correct(on < off, f"the hook shortens the window: {on:.2f} s < {off:.2f} s")
    outcome.target(on < TARGET_S, f"hook on: unavailable {on:.2f} s < {TARGET_S:g} s")
    outcome.finish()


if __name__ == "__main__":
    main()
