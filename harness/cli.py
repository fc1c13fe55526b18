"""`redis-harness`: the command line. Exit codes: 0 pass, 1 an SLO failed or a regression, 2 bad input, 3 the run could not complete."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

import yaml

from harness import __version__
from harness.errors import HarnessError, ScenarioError
from harness.scenario import Scenario, load_scenario


def _parse_set(values: list[str]) -> dict:
    overrides = {}
    for item in values:
        if "=" not in item:
            raise ScenarioError(f"--set {item!r}: expected FIELD.PATH=VALUE, e.g. duration_s=30")
        key, raw = item.split("=", 1)
        overrides[key] = yaml.safe_load(raw)
    return overrides


def _scenario(args) -> Scenario:
    overrides = _parse_set(getattr(args, "set", None) or [])
    if getattr(args, "platform", None):
        overrides["platform"] = args.platform
    if getattr(args, "duration", None):
        overrides["duration_s"] = args.duration
    return load_scenario(args.scenario, overrides)


# ----------------------------------------------------------------------------- commands


def cmd_validate(args) -> int:
    failed = 0
    for path in args.scenarios:
        try:
            scenario = load_scenario(path)
            print(f"ok    {path}: {scenario.name} ({scenario.topology.kind}, {len(scenario.faults)} faults)")
        except ScenarioError as exc:
            failed += 1
            print(str(exc), file=sys.stderr)
    return 2 if failed else 0


def cmd_run(args) -> int:
    scenario = _scenario(args)
    if args.dry_run:
        return _dry_run(scenario)
    from harness.runner import run_scenario

    if args.repeat > 1:
        return _run_repeated(scenario, args)
    result = run_scenario(scenario, out_dir=Path(args.out) if args.out else None)
    _print_headline(result.summary, result.run_dir, result.status)
    return result.exit_code


def _run_repeated(scenario: Scenario, args) -> int:
    from harness.report.aggregate import aggregate_runs
    from harness.runner import run_scenario

    root = Path(args.out) if args.out else None
    results = []
    for i in range(args.repeat):
        out = root / f"run-{i + 1}" if root else None
        results.append(run_scenario(scenario, out_dir=out))
        _print_headline(results[-1].summary, results[-1].run_dir, results[-1].status)
    agg = aggregate_runs([r.run_dir for r in results])
    print(agg.to_text())
    if root:
        (root / "aggregate.json").write_text(json.dumps(agg.to_dict(), indent=2, default=str))
        (root / "aggregate.md").write_text(agg.to_markdown())
    return max(r.exit_code for r in results)


def _dry_run(scenario: Scenario) -> int:
    if scenario.platform != "kubernetes":
        raise ScenarioError("--dry-run prints a Kubernetes plan: use it with --platform kubernetes")
    from harness.platforms.k8s_plan import options_from_env, plan

    print(plan(scenario, **options_from_env()))  # the REDIS_HARNESS_K8S_* options a live run would use
    return 0


def _print_headline(summary: dict | None, run_dir: Path, status: str) -> None:
    if not summary:
        print(f"run {status}; no summary (see {run_dir})")
        return
    t, w = summary.get("throughput", {}), summary.get("writes", {})

    def rate(key: str) -> str:
        value = t.get(key)
        return "n/a" if value is None else f"{value:.0f}"

    print(f"verdict: {summary.get('verdict')}   run: {status}   dir: {run_dir}")
    print(f"throughput ops/s ({t.get('driver', 'headline driver')}): baseline {rate('baseline_ops_per_s')}, "
          f"during faults {rate('during_fault_ops_per_s')}, recovered {rate('recovered_ops_per_s')}")
    for f in summary.get("failover", []):
        print(f"fault {f.get('fault_id')}: unavailable {f.get('unavailable_s')} s, detected {f.get('detected_s')} s, "
              f"promoted {f.get('promoted_s')} s, new primary {f.get('new_primary')}")
    print(f"writes: {w.get('acknowledged', 0)} acknowledged, {w.get('lost', 0)} lost, {w.get('unknown', 0)} unknown")
    for slo in summary.get("slo", []):
        print(f"  SLO {slo['name']}: {slo['value']} vs limit {slo['limit']}: {'pass' if slo['pass'] else 'FAIL'}")


def cmd_deploy(args) -> int:
    from harness.platforms import make_platform
    from harness.runner import preflight, stderr_progress

    scenario = _scenario(args)
    platform = make_platform(scenario.platform)
    preflight(scenario, platform)
    deployment_id = f"{scenario.name}-{secrets.token_hex(3)}"
    deployment = platform.deploy(scenario.topology, deployment_id, owner_pid=None, progress=stderr_progress)
    print(f"deployed {deployment.id}: {len(deployment.pods)} pods")
    print(f"state: {deployment.state_file}")
    print(f"export REDIS_HARNESS_DEPLOYMENT={deployment.state_file}")
    _print_status(deployment)
    return 0


def _find_deployment(ref: str | None):
    from harness.platforms.base import Deployment, state_root

    ref = ref or os.environ.get("REDIS_HARNESS_DEPLOYMENT")
    if ref and Path(ref).is_file():
        return Deployment.load(ref)
    candidates = [Deployment.load(p) for p in sorted(state_root().glob("*/deployment.json"))]  # local rh*, k8s-*
    if ref:
        candidates = [d for d in candidates if d.id == ref or d.id.startswith(ref)]
    else:
        candidates = [d for d in candidates if d.owner_pid is None]
    if len(candidates) != 1:
        names = ", ".join(d.id for d in candidates) or "none"
        raise ScenarioError(f"name one deployment (id or deployment.json path); found: {names}")
    return candidates[0]


def _print_status(deployment) -> None:
    from harness.roles import current_roles

    roles = {r.pod: r for r in current_roles(deployment)}
    print(f"{'pod':<12} {'role':<9} {'shard':<6} {'address':<20} {'version':<15} offset / link")
    for pod in deployment.pods:
        r = roles[pod.name]
        detail = "" if r.offset is None else f"{r.offset}"
        if r.role == "replica":
            detail += f" of {r.primary} link {'up' if r.link_up else 'down'}"
        shard = "" if r.shard is None else str(r.shard)
        print(f"{pod.name:<12} {r.role:<9} {shard:<6} {pod.address:<20} {pod.version:<15} {detail}")


def cmd_status(args) -> int:
    deployment = _find_deployment(args.deployment)
    print(f"deployment {deployment.id} ({deployment.platform}, {deployment.network})")
    _print_status(deployment)
    return 0


def cmd_destroy(args) -> int:
    from harness.platforms import make_platform

    deployment = _find_deployment(args.deployment)
    removed = make_platform(deployment.platform).teardown(deployment)
    print(f"destroyed {deployment.id}: removed {len(removed)} objects")
    return 0


def cmd_cleanup(args) -> int:
    from harness.cleanup import cleanup

    removed = cleanup(everything=args.all)
    for item in removed:
        print(f"removed {item}")
    print(f"cleanup: removed {len(removed)} leftover objects" if removed else "cleanup: nothing left behind")
    return 0


def cmd_report(args) -> int:
    from harness.checker import analyze
    from harness.report import build_report

    summary = analyze(args.run_dir)
    path = build_report(args.run_dir)
    _print_headline(summary, Path(args.run_dir), "partial" if summary.get("partial") else "complete")
    print(f"report: {path}")
    return 0


def cmd_compare(args) -> int:
    from harness.report.compare import compare, parse_thresholds

    try:
        thresholds = parse_thresholds(args.threshold or [])
    except ValueError as exc:
        raise ScenarioError(f"--threshold: {exc}") from None
    result = compare(_runs(args.baseline), _runs(args.current), thresholds or None)
    print(result.to_text())
    if args.markdown:
        Path(args.markdown).write_text(result.to_markdown())
    return 1 if result.regressed else 0


def _runs(ref: str) -> list[Path]:
    """A run dir or summary.json is one run; a directory of run dirs (from --repeat) is several."""
    path = Path(ref)
    if path.is_file() or (path / "summary.json").exists():
        return [path]
    runs = sorted(p.parent for p in path.glob("*/summary.json"))
    if not runs:
        raise ScenarioError(f"{ref}: no summary.json in it or in its subdirectories")
    return runs


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redis-harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"redis-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def scenario_args(p):
        p.add_argument("scenario", help="scenario YAML file")
        p.add_argument("--platform", choices=["local", "kubernetes"], help="override the scenario's platform")
        p.add_argument("--duration", type=float, help="override duration_s")
        p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                       help="override any scenario field, e.g. --set topology.replicas=3")

    p = sub.add_parser("run", help="deploy, load, break, heal and report one scenario")
    scenario_args(p)
    p.add_argument("--out", help="run directory (default reports/<run-id>)")
    p.add_argument("--repeat", type=int, default=1, help="run N times and report medians and spread")
    p.add_argument("--dry-run", action="store_true", help="print the Kubernetes plan without a cluster")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check scenario files without deploying")
    p.add_argument("scenarios", nargs="+")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("deploy", help="deploy a scenario's topology and leave it running")
    scenario_args(p)
    p.set_defaults(func=cmd_deploy)

    for name, func, text in (("status", cmd_status, "pods, roles, addresses, replication offsets"),
                             ("destroy", cmd_destroy, "tear down a deployment made by `deploy`")):
        p = sub.add_parser(name, help=text)
        p.add_argument("deployment", nargs="?", help="deployment id or deployment.json (default: the only one)")
        p.set_defaults(func=func)

    p = sub.add_parser("cleanup", help="remove what killed runs left behind")
    p.add_argument("--all", action="store_true", help="also remove deployments made by `deploy`")
    p.set_defaults(func=cmd_cleanup)

    p = sub.add_parser("report", help="rebuild a run's report from its raw data")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="compare runs (baseline vs current); exit 1 on regression")
    p.add_argument("baseline", help="a run directory, a summary.json, or a directory of repeated runs")
    p.add_argument("current", help="the same, for the run under test")
    p.add_argument("--threshold", action="append", metavar="METRIC=REL", help="relative threshold per metric, e.g. throughput.baseline=10%% or latency.p99=0.3")
    p.add_argument("--markdown", help="also write the comparison as Markdown to this file")
    p.set_defaults(func=cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"redis-harness: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("redis-harness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
