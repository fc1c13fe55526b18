"""`redis-harness`: the command line. Exit codes: 0 pass, 1 an SLO failed or a regression, 2 bad input, 3 the run could not complete."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
import traceback
from pathlib import Path

import yaml

from harness import __version__
from harness.errors import HarnessError, ScenarioError
from harness.rundir import SUMMARY_FILE, RunDir, headline_lines, refuse_used_run_dir
from harness.scenario import Scenario, load_scenario, yaml_problem


def _parse_set(values: list[str]) -> dict:
    overrides = {}
    for item in values:
        if "=" not in item:
            raise ScenarioError(f"--set {item!r}: expected FIELD.PATH=VALUE, e.g. duration_s=30")
        key, raw = item.split("=", 1)
        if not key:
            raise ScenarioError(f"--set {item!r}: no field before '='")
        try:
            overrides[key] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"--set {item!r}: the value is not valid YAML ({yaml_problem(exc)})") from None
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
            what = (f"sweep of {len(scenario.sweep.rate_list())} rates x {max(1, len(scenario.sweep.variants))} variant(s)"
                    if scenario.sweep else f"{len(scenario.faults)} faults")
            print(f"ok    {path}: {scenario.name} ({scenario.topology.kind}, {what})")
        except ScenarioError as exc:
            failed += 1
            print(str(exc), file=sys.stderr)
    return 2 if failed else 0


def cmd_run(args) -> int:
    if args.repeat < 1:
        raise ScenarioError(f"--repeat {args.repeat}: must be 1 or more")
    scenario = _scenario(args)
    if args.dry_run:
        return _dry_run(scenario)
    from harness.runner import run_scenario

    if args.repeat > 1:
        return _run_repeated(scenario, args)
    result = run_scenario(scenario, out_dir=Path(args.out) if args.out else None)
    _print_headline(result.summary, result.run_dir, result.status)
    _record_runs(args, [result.run_dir])
    return result.exit_code


def _run_repeated(scenario: Scenario, args) -> int:
    from harness.report.aggregate import aggregate_runs
    from harness.runner import run_scenario

    root = Path(args.out) if args.out else None
    for i in range(args.repeat if root is not None else 0):  # refused before the first run, not halfway
        refuse_used_run_dir(Path(args.out) / f"run-{i + 1}")
    results = []
    for i in range(args.repeat):
        out = root / f"run-{i + 1}" if root else None
        results.append(run_scenario(scenario, out_dir=out))
        _print_headline(results[-1].summary, results[-1].run_dir, results[-1].status)
    _record_runs(args, [r.run_dir for r in results])  # the repeats are one batch: one night
    agg = aggregate_runs([r.run_dir for r in results])
    print(agg.to_text())
    if root:
        (root / "aggregate.json").write_text(json.dumps(agg.to_dict(), indent=2, default=str))
        (root / "aggregate.md").write_text(agg.to_markdown())
    return max(r.exit_code for r in results)


def _dry_run(scenario: Scenario) -> int:
    if scenario.platform != "kubernetes":
        raise ScenarioError("--dry-run prints a Kubernetes plan: use it with --platform kubernetes")
    from harness.platforms.kubernetes.plan import options_from_env, plan

    print(plan(scenario, **options_from_env()))  # the REDIS_HARNESS_K8S_* options a live run would use
    return 0


def _print_headline(summary: dict | None, run_dir: Path, status: str) -> None:
    from harness.report.drill_section import drill_lines  # the report package imports pandas and matplotlib

    if not summary:
        print(f"run {status}; no summary (see {run_dir})")
        return
    if summary.get("kind") == "capacity":
        print(f"verdict: {summary.get('verdict')}   run: {status}   dir: {run_dir}")
        print("\n".join(summary.get("headline") or []))
        return
    t, w = summary.get("throughput", {}), summary.get("writes", {})

    def rate(phases: dict, key: str) -> str:
        value = phases.get(key)
        return "n/a" if value is None else f"{value:,.0f}"

    def secs(value: float | None) -> str:  # summary.json keeps full precision; a person reads hundredths
        return "n/a" if value is None else f"{value:.2f}"

    def figure(value) -> str:  # an SLO's value or limit: a count stays whole, a measure gets hundredths
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "n/a" if value is None else str(value)
        return f"{int(value):,}" if isinstance(value, int) or value.is_integer() else f"{value:,.2f}"

    print(f"verdict: {summary.get('verdict')}   run: {status}   dir: {run_dir}")
    for line in headline_lines(summary, run_dir) + drill_lines(summary):
        print(line)
    drivers = t.get("by_driver") or {t.get("driver") or "headline driver": t}
    for name, phases in sorted(drivers.items(), key=lambda item: item[0] != t.get("driver")):  # headline first
        print(f"throughput ops/s ({name}): baseline {rate(phases, 'baseline_ops_per_s')}, "
              f"during faults {rate(phases, 'during_fault_ops_per_s')}, recovered {rate(phases, 'recovered_ops_per_s')}")
    for f in summary.get("failover", []):
        failover = (f"detected {secs(f.get('detected_s'))} s, promoted {secs(f.get('promoted_s'))} s, "
                    f"new primary {f.get('new_primary') or 'none'}"
                    if any(f.get(k) is not None for k in ("detected_s", "promoted_s", "new_primary")) else "no failover seen")
        print(f"fault {f.get('fault_id')}: unavailable {secs(f.get('unavailable_s'))} s, {failover}")
    print(f"writes: {w.get('acknowledged', 0):,} acknowledged, {w.get('lost', 0):,} lost, {w.get('unknown', 0):,} unknown")
    reads = summary.get("reads") or {}
    if reads.get("missed_acknowledged_write"):
        print(f"reads: {reads.get('acknowledged', 0):,} answered, {reads['missed_acknowledged_write']:,} missed an "
              "acknowledged write")
    for slo in summary.get("slo", []):
        status = slo.get("status") or ("pass" if slo["pass"] else "fail")
        print(f"  SLO {slo['name']}: {figure(slo['value'])} vs limit {figure(slo['limit'])}: "
              + ("pass" if status == "pass" else status.upper() + (f" ({slo['reason']})" if slo.get("reason") else "")))


def cmd_deploy(args) -> int:
    from harness.platforms import make_platform
    from harness.runner import refuse_unsupported_faults, stderr_progress

    scenario = _scenario(args)
    platform = make_platform(scenario.platform)
    refuse_unsupported_faults(scenario, platform)
    deployment_id = f"{scenario.name}-{secrets.token_hex(3)}"
    deployment = platform.deploy(scenario.topology, deployment_id, owner_pid=None, progress=stderr_progress)
    print(f"deployed {deployment.id}: {len(deployment.pods)} pods")
    print(f"state: {deployment.state_file}")
    print(f"export REDIS_HARNESS_DEPLOYMENT={deployment.state_file}")
    _print_status(deployment)
    return 0


def _find_deployment(ref: str | None):
    """The deployment a `status`/`destroy` argument names: a deployment.json, an id or an id's prefix."""
    from harness.deployment import state_root

    ref = ref or os.environ.get("REDIS_HARNESS_DEPLOYMENT")
    if ref and Path(ref).exists():
        return _load_deployment(Path(ref))
    candidates = [d for d in map(_try_load, sorted(state_root().glob("*/deployment.json"))) if d]  # local rh*, k8s-*
    if ref:
        exact = [d for d in candidates if d.id == ref]
        candidates = exact or [d for d in candidates if d.id.startswith(ref)]
    else:
        candidates = [d for d in candidates if d.owner_pid is None]
    if len(candidates) == 1:
        return candidates[0]
    names = ", ".join(d.id for d in candidates)
    if not ref:
        raise ScenarioError("name a deployment (id or deployment.json): "
                            + (f"there are several: {names}" if candidates else "none is deployed"))
    if candidates:
        raise ScenarioError(f"deployment {ref!r} is ambiguous: it matches {names}")
    raise ScenarioError(f"deployment {ref!r}: no deployment has that id and no such file exists")


def _load_deployment(path: Path):
    from harness.deployment import Deployment

    if path.suffix in (".yaml", ".yml"):
        raise ScenarioError(f"{path}: is a scenario file; give a deployment id or its deployment.json")
    try:
        return Deployment.load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(f"{path}: not a deployment.json ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def _try_load(path: Path):
    """A deployment.json another process is writing, or a corrupt one, is not a candidate."""
    try:
        return _load_deployment(path)
    except ScenarioError:
        return None


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

    _require_run_dir(Path(args.run_dir))
    summary = analyze(args.run_dir)
    from harness.runner import exit_code_for

    path = build_report(args.run_dir)
    status = "partial" if summary.get("partial") else "complete"
    _print_headline(summary, Path(args.run_dir), status)
    print(f"report: {path}")
    return exit_code_for(status, summary)  # the same gate as `run`: a CI job may re-check a kept run


def _require_run_dir(path: Path) -> None:
    """A report is rebuilt only from a run directory: never invent one for a typo."""
    if not path.exists():
        raise ScenarioError(f"{path}: no such run directory")
    if not path.is_dir():
        raise ScenarioError(f"{path}: not a directory (give a run directory, e.g. reports/<run-id>)")
    if not RunDir(path).meta.is_file():
        raise ScenarioError(f"{path}: not a run directory (no meta.json in it)")


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


def cmd_record(args) -> int:
    if not args.run_dirs and not args.alias:
        raise ScenarioError("record: name run directories to record, or --alias OLD=NEW")
    _record_runs(args, [Path(p) for p in args.run_dirs])
    return 0


def _record_runs(args, run_dirs: list[Path]) -> None:
    """Append runs (as one batch) to --store, apply --alias, write --prom / --openmetrics; no-op without --store."""
    if not getattr(args, "store", None):
        return
    from harness.store.db import Store
    from harness.store.fingerprint import load_per_cpu

    with Store(args.store) as store:
        for item in getattr(args, "alias", None) or []:
            old, sep, new = item.partition("=")
            if not sep or not old.strip() or not new.strip():
                raise ScenarioError(f"--alias {item!r}: expected OLD=NEW scenario names")
            store.alias(old.strip(), new.strip())
            print(f"alias: runs of {old.strip()} are filed under {new.strip()}")
        live_load = None
        if args.command == "run":  # the runs have just ended; one the checker never summarised is not a result
            live_load = load_per_cpu()
            for missing in [d for d in run_dirs if not RunDir(d).summary.is_file()]:
                print(f"not recorded: {missing} has no summary.json (the run did not get that far)")
            run_dirs = [d for d in run_dirs if RunDir(d).summary.is_file()]
        done = store.record(run_dirs, batch=getattr(args, "batch", None), live_load=live_load) if run_dirs else []
        for r in done:
            flag = f"; generator saturated: {r.saturated}" if r.saturated else ""
            print(f"{'recorded' if r.added else 'already in the store'}: {r.run_id} as {r.key}{flag}")
        if done:
            print(f"store: {store.path}")
    _write_metrics_files(args, done)


def _write_metrics_files(args, done) -> None:
    if not done or not (getattr(args, "prom", None) or getattr(args, "openmetrics", None)):
        return
    from harness.store.openmetrics import registry_for, write_openmetrics, write_prometheus

    registry = registry_for([(r.labels, r.summary, r.started_at) for r in done])
    if getattr(args, "prom", None):
        write_prometheus(registry, Path(args.prom))
        print(f"prometheus text: {args.prom}")
    if getattr(args, "openmetrics", None):
        write_openmetrics(registry, Path(args.openmetrics))
        print(f"openmetrics: {args.openmetrics}")


def cmd_trend(args) -> int:
    from harness.report.compare import parse_thresholds
    from harness.store import verdict_report
    from harness.store.db import Store, parse_since
    from harness.store.trends import load_trends

    try:
        thresholds = parse_thresholds(args.threshold or [])
    except ValueError as exc:
        raise ScenarioError(f"--threshold: {exc}") from None
    if not Path(args.store).exists():
        raise ScenarioError(f"--store {args.store}: no such store")
    if args.window < 1:
        raise ScenarioError("--window: at least 1 batch")
    since = parse_since(args.since) if args.since else None
    with Store(args.store) as store:
        trends = load_trends(store, scenario=args.scenario, metrics=args.metric, since=since,
                             thresholds=thresholds, window=args.window, only_latest=not args.out)
    latest = [t.latest for t in trends]
    print(verdict_report.to_text(latest))
    if args.out:
        from harness.store.trend_page import write_trend_page

        out = Path(args.out)
        page = write_trend_page(trends, out)
        (out / "verdicts.md").write_text(verdict_report.to_markdown(latest))
        (out / "verdicts.json").write_text(verdict_report.to_json(latest))
        verdict_report.write_junit(latest, out / "junit.xml")
        print(f"trend: {page}")
    if args.markdown:
        Path(args.markdown).write_text(verdict_report.to_markdown(latest))
    if args.junit:
        verdict_report.write_junit(latest, Path(args.junit))
    return verdict_report.exit_code(latest)


def cmd_lint(args) -> int:
    from harness.lint import run_lint

    return run_lint(args.files, args.server, args.kind)


def _runs(ref: str) -> list[Path]:
    """A run dir or summary.json is one run; a directory of run dirs (from --repeat) is several."""
    path = Path(ref)
    if not path.exists():
        raise ScenarioError(f"{ref}: no such run directory or summary.json")
    if path.is_file() or RunDir(path).summary.exists():
        return [path]
    runs = sorted(p.parent for p in path.glob(f"*/{SUMMARY_FILE}"))
    if not runs:
        raise ScenarioError(f"{ref}: no summary.json in it or in its subdirectories")
    return runs


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="redis-harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"redis-harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def scenario_args(p):
        p.add_argument("scenario", help="scenario YAML file")
        p.add_argument("--platform", choices=["local", "kubernetes"], help="override the scenario's platform")
        p.add_argument("--duration", type=float, help="override duration_s")
        p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                       help="override any scenario field, e.g. --set topology.replicas=3")

    def store_args(p, required: bool = False):
        p.add_argument("--store", required=required, help="results store: a .sqlite file or a directory for one")
        p.add_argument("--batch", help="batch name for these runs (default: the first run's id); one night's repeats")
        p.add_argument("--prom", metavar="FILE", help="also write the headline metrics in the Prometheus text "
                       "format (node-exporter textfile collector, Pushgateway body)")
        p.add_argument("--openmetrics", metavar="FILE", help="also write them in the OpenMetrics text format")

    p = sub.add_parser("run", help="deploy, load, break, heal and report one scenario")
    scenario_args(p)
    p.add_argument("--out", help="run directory (default reports/<run-id>)")
    p.add_argument("--repeat", type=int, default=1, help="run N times and report medians and spread")
    p.add_argument("--dry-run", action="store_true", help="print the Kubernetes plan without a cluster")
    store_args(p)
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

    p = sub.add_parser("record", help="append runs to a results store (nightly trends)")
    p.add_argument("run_dirs", nargs="*", help="run directories, summary.json files, or a directory of repeats")
    store_args(p, required=True)
    p.add_argument("--alias", action="append", metavar="OLD=NEW",
                   help="file a renamed scenario's earlier runs under its new name")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("trend", help="verdicts of the latest nights against their baseline; trend page with --out; "
                                     "exit 1 on a regression")
    p.add_argument("--store", required=True, help="results store written by `record` or `run --store`")
    p.add_argument("--scenario", help="only this scenario (aliases apply)")
    p.add_argument("--metric", action="append", help="only these metrics: a name (latency.p99), a family "
                   "(unavailable_s) or a group (throughput, latency); repeatable")
    p.add_argument("--since", help="show runs since: 30d, 12h, 2w or a date (the window before still judges)")
    p.add_argument("--window", type=int, default=7, help="baseline window in batches (nights); default 7")
    p.add_argument("--threshold", action="append", metavar="METRIC=REL",
                   help="relative threshold per metric, e.g. throughput.baseline=5%%")
    p.add_argument("--out", help="directory for trend.html, verdicts.md, verdicts.json and junit.xml")
    p.add_argument("--markdown", help="also write the verdict table as Markdown to this file")
    p.add_argument("--junit", help="also write the verdicts as JUnit XML to this file")
    p.set_defaults(func=cmd_trend)

    p = sub.add_parser("lint", help="load redis.conf / sentinel.conf files (or ConfigMaps holding them) into every "
                                    "server version; exit 1 when one rejects a line")
    p.add_argument("files", nargs="+", help="a redis.conf, a sentinel.conf, or a Kubernetes YAML with ConfigMaps")
    p.add_argument("--server", action="append", help="only this server (system, redis-6.2, valkey-9.1 or a "
                   "path to a binary); repeatable; default all three, skipping those not installed")
    p.add_argument("--kind", choices=["redis", "sentinel"], help="what every file is (default: guessed from "
                   "the name, or a `sentinel monitor` line)")
    p.set_defaults(func=cmd_lint)
    return parser


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line, exit 2, like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


PATH_ARGS = ("out", "run_dir", "baseline", "current", "markdown")  # scenarios are read here, at once


def absolute_inputs(args: argparse.Namespace) -> None:
    """Make every path the user gave absolute once, here, where it enters: runs hand these to child
    processes and state files that do not share this process's working directory."""
    for name in PATH_ARGS:
        if getattr(args, name, None):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    if getattr(args, "deployment", None) and os.path.exists(args.deployment):
        args.deployment = os.path.abspath(args.deployment)
    for var in ("REDIS_HARNESS_STATE", "REDIS_HARNESS_DEPLOYMENT"):
        if os.environ.get(var):
            os.environ[var] = os.path.abspath(os.environ[var])


def _crash_log(command: str) -> Path:
    """Where an unexpected exception's traceback goes: the user gets one line, the log the detail."""
    folder = Path(tempfile.gettempdir()) / "redis-harness-errors"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{command}-{os.getpid()}.log"
    path.write_text(traceback.format_exc())
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    absolute_inputs(args)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at interpreter exit
        return code
    except HarnessError as exc:
        print(f"redis-harness: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("redis-harness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as a tool killed by SIGPIPE would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except Exception as exc:  # noqa: BLE001 - never a raw traceback, never exit 1 (which means "an SLO failed")
        log = _crash_log(args.command)
        first = (str(exc).splitlines() or [""])[0]
        print(f"redis-harness: {args.command} failed unexpectedly ({type(exc).__name__}: {first}); "
              f"traceback in {log}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
