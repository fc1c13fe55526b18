"""`redis-harness trend --out` on a store of 1,000 runs (target: < 10 s), with a correctness check.

    python bench/bench_trend.py [--quick] [--runs N] [--keep DIR]

The store is built from tests/synthetic_nights.py: one run a night, a sentinel primary-kill
scenario's numbers with realistic noise, a server version change at 60% of the nights and a
planted 10% throughput drop on the last night. The timed part is the command a CI job runs,
`redis-harness trend --store S --out DIR`, as a fresh process (imports included), wall clock.
The check: the command exits 1, the latest night's throughput is `regressed`, the page links
every run's point of the throughput chart and marks the version change. Exit status 1 when the
check fails (whatever the time), so CI can run `--quick` as a smoke test.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from synthetic_nights import Night, write_nights  # noqa: E402

from harness.store.db import Store  # noqa: E402

TARGET_S = 10.0


def build_store(root: Path, runs: int) -> Path:
    change_at = int(runs * 0.6)
    nights = [Night(version="redis 7.2.4" if i >= change_at else "redis 7.0.15",
                    throughput_factor=0.9 if i == runs - 1 else 1.0) for i in range(runs)]
    store_path = root / "store.sqlite"
    with Store(store_path) as store:
        for night in write_nights(root / "runs", nights):
            store.record(night)
    return store_path


def check(out: Path, code: int, runs: int) -> list[str]:
    problems = []
    if code != 1:
        problems.append(f"exit code {code}, expected 1 (the planted drop is a regression)")
    verdicts = json.loads((out / "verdicts.json").read_text())
    throughput = {m["name"]: m["verdict"] for m in verdicts["series"][0]["metrics"]}.get("throughput.baseline")
    if throughput != "regressed":
        problems.append(f"latest throughput.baseline verdict {throughput!r}, expected 'regressed'")
    page = (out / "trend.html").read_text()
    first_map = page.split("<map", 2)[1].split("</map>")[0]
    if first_map.count("<area") != runs:
        problems.append(f"throughput chart links {first_map.count('<area')} points, expected {runs}")
    if not re.search(r"server_versions: redis 7\.0\.15 -&gt; redis 7\.2\.4", page):
        problems.append("the server version change is not marked on the page")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 runs: a smoke test of the same path")
    parser.add_argument("--runs", type=int, help="runs in the store (default 1,000; --quick 100)")
    parser.add_argument("--keep", type=Path, help="build the store and page here and keep them")
    args = parser.parse_args()
    runs = args.runs or (100 if args.quick else 1000)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-trend-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        store = build_store(root, runs)
        print(f"store of {runs:,} runs built and recorded in {time.perf_counter() - t0:.1f} s ({store})")
        out = root / "trend"
        command = [str(Path(sys.executable).parent / "redis-harness"), "trend", "--store", str(store), "--out", str(out)]
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        problems = check(out, done.returncode, runs) if (out / "verdicts.json").exists() else [
            f"no verdicts written; exit {done.returncode}: {done.stderr.strip()[-400:]}"]
        size = (out / "trend.html").stat().st_size / 1e6 if (out / "trend.html").exists() else 0
        print(f"trend --out on {runs:,} runs: {seconds:.2f} s wall (target < {TARGET_S:g} s), page {size:.1f} MB")
        for problem in problems:
            print(f"CHECK FAILED: {problem}")
        if not problems:
            print("check: latest night regressed as planted; every point linked; version change marked")
        return 1 if problems else 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
