"""Checker time and peak memory on a synthetic history of 10 million operations (targets: < 60 s, < 2 GiB).

    python bench/bench_checker.py [--ops 10000000] [--keep DIR]

The history (20M rows with the invokes: a sentinel run of 16 probe clients, writes and reads, three
primary kills) is generated with numpy/pyarrow in one child process and `analyze` runs in another,
so that the figure is the checker's own peak (ru_maxrss survives fork+exec: a child forked from
a parent that had just generated 2 GB of arrays would report the parent's size).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from outcome import Outcome, add_quick

NS = 1_000_000_000
CLIENTS = 16
FAULTS = [(120.0, 130.0), (300.0, 310.0), (480.0, 490.0)]  # primary kills; writes refused for 3 s after each
REFUSED_S, UNKNOWN_S = 2.0, 1.0  # first `fail` replies, then timeouts (`info`)
LOST_BEFORE_FAULT_S = 0.2  # writes acknowledged this close before a kill are absent from the final read
PODS = ["redis-0", "redis-1", "redis-2"]


def generate(run_dir: Path, n_ops: int, duration_s: float) -> dict:
    """Write meta.json, scenario.yaml, events.jsonl, history.csv and final.csv; return what to expect."""
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    gap_ns = int(duration_s * NS) // n_ops
    op = np.arange(n_ops, dtype=np.int64)
    process = (op % CLIENTS).astype(np.int32)
    seq = op // CLIENTS
    invoke_ns = op * gap_ns + NS // 2
    complete_ns = invoke_ns + rng.integers(50_000, CLIENTS * gap_ns - 1_000, n_ops)  # before the next invoke
    is_write = seq % 2 == 0

    outcome = np.zeros(n_ops, np.int8)  # 0 ok, 1 fail, 2 info
    primary = np.zeros(n_ops, np.int8)
    lost = np.zeros(n_ops, bool)
    for i, (start, _end) in enumerate(FAULTS):
        t0 = int(start * NS)
        refused = (invoke_ns >= t0) & (invoke_ns < t0 + int(REFUSED_S * NS))
        unknown = (invoke_ns >= t0 + int(REFUSED_S * NS)) & (invoke_ns < t0 + int((REFUSED_S + UNKNOWN_S) * NS))
        outcome[refused] = 1
        outcome[unknown] = 2
        primary[invoke_ns >= t0 + int((REFUSED_S + UNKNOWN_S) * NS)] = (i + 1) % len(PODS)
        lost |= is_write & (complete_ns >= t0 - int(LOST_BEFORE_FAULT_S * NS)) & (invoke_ns < t0)

    _write_history(run_dir / "history.csv", process, seq, is_write, invoke_ns, complete_ns, outcome, primary)
    _write_final(run_dir / "final.csv", process[is_write], seq[is_write], lost[is_write], outcome[is_write])
    _write_events(run_dir / "events.jsonl", duration_s)
    (run_dir / "scenario.yaml").write_text(
        "name: bench-checker\nduration_s: %g\ntopology: {kind: sentinel, replicas: 2}\n"
        "slos: {max_unavailable_s: 10, max_lost_writes: 0}\n" % duration_s)
    (run_dir / "meta.json").write_text(json.dumps({
        "run_id": "bench-checker", "scenario": "bench-checker", "platform": "local", "status": "complete",
        "topology": {"kind": "sentinel", "replicas": 2}, "ended_t": duration_s + 1, "duration_s": duration_s,
        "pods": [{"name": p, "kind": "redis", "host": f"10.213.0.{10 + i}", "port": 6379, "version": "synthetic"}
                 for i, p in enumerate(PODS)],
    }))
    return {"operations": n_ops, "writes": int(is_write.sum()),
            "lost": int((lost & is_write & (outcome == 0)).sum())}


def _write_history(path: Path, process, seq, is_write, invoke_ns, complete_ns, outcome, primary) -> None:
    n = len(process)
    order = np.argsort(np.concatenate([invoke_ns, complete_ns]), kind="stable")
    op = np.concatenate([np.arange(n), np.arange(n)])[order]
    is_completion = order >= n
    kind = np.where(is_completion, outcome[op] + 1, 0).astype(np.int32)  # invoke, ok, fail, info
    key_seq = np.where(is_write[op], seq[op], seq[op] - 1)  # a read reads back the previous write
    key = pc.binary_join_element_wise("probe", pa.array(process[op]).cast(pa.string()),
                                      pa.array(key_seq).cast(pa.string()), ":")
    served = is_completion & (outcome[op] != 1)
    pod = np.where(served, primary[op], len(PODS)).astype(np.int32)
    error = np.select([is_completion & (outcome[op] == 1), is_completion & (outcome[op] == 2)], [1, 2], 0)
    table = pa.table({
        "t_ns": np.where(is_completion, complete_ns[op], invoke_ns[op]),
        "process": process[op],
        "type": _text(kind, ["invoke", "ok", "fail", "info"]),
        "f": _text(np.where(is_write[op], 0, 1), ["write", "read"]),
        "key": key,
        "value": pa.array(key_seq).cast(pa.string()),
        "pod": _text(pod, PODS + [""]),
        "error": _text(error, ["", "READONLY You can't write against a read only replica.", "Timeout"]),
    })
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none", batch_size=1 << 20))


def _write_final(path: Path, process, seq, lost, outcome) -> None:
    rng = np.random.default_rng(11)
    present = ~lost & ((outcome != 2) | (rng.random(len(seq)) < 0.5)) & (outcome != 1)
    key = pc.binary_join_element_wise("probe", pa.array(process).cast(pa.string()), pa.array(seq).cast(pa.string()), ":")
    table = pa.table({"key": key, "present": present.astype(np.int8),
                      "value": pa.array(np.where(present, seq, -1)).cast(pa.string()),
                      "pod": _text(np.full(len(seq), len(FAULTS) % len(PODS)), PODS)})
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none", batch_size=1 << 20))


def _write_events(path: Path, duration_s: float) -> None:
    events = [{"t": 0.0, "source": "runner", "type": "run-start", "detail": ""}]
    for i, (start, end) in enumerate(FAULTS):
        old, new = PODS[i % len(PODS)], PODS[(i + 1) % len(PODS)]
        old_ip, new_ip = f"10.213.0.{10 + i % len(PODS)}", f"10.213.0.{10 + (i + 1) % len(PODS)}"
        events += [
            {"t": start, "source": "nemesis", "type": "fault-start", "fault_id": f"0.{i}", "kind": "pod-kill",
             "target": {"role": "primary"}, "pod": old, "params": {}},
            {"t": start + 1.0, "source": "sentinel", "type": "sentinel", "event": "+sdown",
             "detail": f"master mymaster {old_ip} 6379", "sentinel": "sentinel-0"},
            {"t": start + 2.5, "source": "sentinel", "type": "sentinel", "event": "+switch-master",
             "detail": f"mymaster {old_ip} 6379 {new_ip} 6379", "sentinel": "sentinel-0"},
            {"t": start + 2.6, "source": "watcher", "type": "role-change", "pod": new, "role": "primary", "shard": 0},
            {"t": start + 0.1, "source": "watcher", "type": "role-change", "pod": old, "role": "down", "shard": 0},
            {"t": end, "source": "nemesis", "type": "fault-end", "fault_id": f"0.{i}", "kind": "pod-kill", "pod": old},
            {"t": end + 1.0, "source": "watcher", "type": "role-change", "pod": old, "role": "replica", "shard": 0},
        ]
    events.append({"t": duration_s + 1, "source": "runner", "type": "run-end", "detail": ""})
    path.write_text("".join(json.dumps({"wall": 0.0, **e}) + "\n" for e in sorted(events, key=lambda e: e["t"])))


def _text(codes: np.ndarray, words: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(words))


def analyze_in_this_process(run_dir: str) -> None:
    from harness.checker import analyze

    started = time.perf_counter()
    summary = analyze(run_dir)
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
    print(json.dumps({"wall_s": wall, "peak_rss_mib": peak_kib / 1024, "writes": summary["writes"],
                      "failover": summary["failover"], "throughput": summary["throughput"]}))


def _child(args: list[str]) -> dict:
    """Run this script with `args` in a fresh interpreter; its last stdout line is JSON."""
    child = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if child.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{child.stderr}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=10_000_000)
    parser.add_argument("--duration", type=float, default=600.0, help="run seconds the history spans")
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    parser.add_argument("--analyze-only", help=argparse.SUPPRESS)
    parser.add_argument("--generate-only", help=argparse.SUPPRESS)
    add_quick(parser)
    args = parser.parse_args()
    if args.quick:
        args.ops = min(args.ops, 200_000)
    if args.analyze_only:
        analyze_in_this_process(args.analyze_only)
        return
    if args.generate_only:
        print(json.dumps(generate(Path(args.generate_only), args.ops, args.duration)))
        return

    run_dir = args.keep or Path(tempfile.mkdtemp(prefix="bench-checker-"))
    try:
        started = time.perf_counter()
        expected = _child(["--generate-only", str(run_dir), "--ops", str(args.ops), "--duration", str(args.duration)])
        size_mib = (run_dir / "history.csv").stat().st_size / 2**20
        print(f"generated {args.ops:,} operations ({2 * args.ops:,} history rows, {size_mib:,.0f} MiB) "
              f"in {time.perf_counter() - started:.1f} s")
        result = _child(["--analyze-only", str(run_dir)])
        print(f"checker: {result['wall_s']:.1f} s wall, peak RSS {result['peak_rss_mib']:,.0f} MiB "
              f"(targets: < 60 s, < 2048 MiB)")
        writes = result["writes"]
        print(f"writes: attempted {writes['attempted']:,} acknowledged {writes['acknowledged']:,} "
              f"lost {writes['lost']:,} (expected {expected['lost']:,})")
        for f in result["failover"]:
            print(f"fault {f['fault_id']}: unavailable {f['unavailable_s']} s, detected {f['detected_s']} s, "
                  f"promoted {f['promoted_s']} s, new primary {f['new_primary']}")
        t = result["throughput"]
        print(f"probe ops/s: baseline {t['baseline_ops_per_s']}, during {t['during_fault_ops_per_s']}, "
              f"recovered {t['recovered_ops_per_s']}")
    finally:
        if args.keep is None:
            shutil.rmtree(run_dir, ignore_errors=True)
    outcome = Outcome(args.quick)
    outcome.correct(writes["lost"] == expected["lost"] > 0, f"lost {writes['lost']:,} == planted {expected['lost']:,}")
    outcome.correct(len(result["failover"]) == len(FAULTS), f"{len(result['failover'])} failovers for {len(FAULTS)} kills")
    outcome.target(result["wall_s"] < 60 and result["peak_rss_mib"] < 2048, "checker < 60 s and < 2048 MiB")
    outcome.finish()


if __name__ == "__main__":
    main()
