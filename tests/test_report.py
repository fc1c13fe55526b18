"""Reports from run directories: files, JUnit, self-contained HTML rendered by a real browser, compare.

Run directories come from tests/synthetic_run.py, whose numbers are known in advance: the
report must show exactly them. Real-run coverage (a sentinel primary kill end to end) belongs
with the runner, which writes the directories these functions read.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from junitparser import Failure, JUnitXml, Skipped
from PIL import Image

from harness.report import aggregate_runs, build_report, compare, load_run, parse_thresholds
from harness.rundir import RunDir
from synthetic_run import SyntheticFault, make_run

CHROMIUM = shutil.which("chromium")
SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "summary.schema.json"
PLOTS = ("throughput", "latency", "availability", "failover")


@pytest.fixture(scope="module")
def lossy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished sentinel primary-kill run that lost 3 acknowledged writes: SLO max_lost_writes fails."""
    run = make_run(tmp_path_factory.mktemp("runs") / "20261125T221000Z-lossy", duration_s=40, lost_writes=3)
    build_report(run)
    return run


# --------------------------------------------------------------------------- build_report


def test_build_report_writes_every_file(lossy_run: Path) -> None:
    rundir = RunDir(lossy_run)
    for name in PLOTS:
        png = rundir.plots_dir / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
        assert Image.open(png).size[0] == 1200
    assert rundir.html.stat().st_size > 10_000
    assert rundir.junit.exists()


def test_junit_has_one_case_per_slo_and_fails_the_broken_one(lossy_run: Path) -> None:
    summary = json.loads(RunDir(lossy_run).summary.read_text())
    suites = JUnitXml.fromfile(str(RunDir(lossy_run).junit))
    cases = {case.name: case for suite in suites for case in suite}
    slo_names = [s["name"] for s in summary["slo"]]
    assert sorted(cases) == sorted(slo_names + [c["name"] for c in summary["checks"]])
    failed = sorted(name for name, case in cases.items() if any(isinstance(r, Failure) for r in case.result))
    assert failed == ["max_lost_writes"]
    assert "3" in cases["max_lost_writes"].result[0].message


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action"):
                self.refs.append((tag, name, value or ""))
                if tag == "img" and name == "src":
                    self.images.append(value or "")


def test_html_is_self_contained(lossy_run: Path) -> None:
    page = RunDir(lossy_run).html.read_text()
    refs = _References()
    refs.feed(page)
    assert len(refs.images) == len(PLOTS)
    assert all(tag == "img" and name == "src" for tag, name, _ in refs.refs), refs.refs
    for uri in refs.images:
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1])[:4] == b"\x89PNG"
    for outside in ("http://", "https://", "file:", "<link", "url(", "@import", "<script"):
        assert outside not in page, f"report.html refers outside itself: {outside}"


def test_html_headline_shows_the_runs_numbers(lossy_run: Path) -> None:
    page = RunDir(lossy_run).html.read_text()
    summary = json.loads(RunDir(lossy_run).summary.read_text())
    assert page.index(">FAIL<") < page.index("<img")  # the verdict before the plots
    assert f"{summary['failover'][0]['unavailable_s']:.2f} s" in page
    for sample in summary["writes"]["lost_sample"]:
        assert sample["key"] in page
    assert "before fault 0.0 started" in page  # the lost writes were acked just before the kill
    assert "PARTIAL" not in page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian package `chromium` is not installed: cannot render the page")
def test_report_renders_in_headless_chromium(lossy_run: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2000",
         RunDir(lossy_run).html.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    pixels = np.asarray(image)
    assert pixels.std() > 20, "the screenshot is blank"
    verdict_red = np.all(np.abs(pixels[:200].astype(int) - (0xCF, 0x22, 0x2E)) < 12, axis=-1)
    assert verdict_red.sum() > 2000, "the red FAIL badge is not at the top of the page"
    plot_rows = pixels[400:2000]
    assert len(np.unique(plot_rows.reshape(-1, 3), axis=0)) > 200, "no plot images rendered below the headline"


# --------------------------------------------------------------------------- partial runs


def test_partial_run_is_marked_partial(tmp_path: Path) -> None:
    run = make_run(tmp_path / "killed", duration_s=40, partial=True, cut_at_s=19.5)
    page = build_report(run).read_text()
    assert 'id="partial"' in page and "PARTIAL" in page
    assert "INCOMPLETE" in page
    assert "not checked: no final read" in page  # 0 lost means nothing here: nothing was checked
    suites = JUnitXml.fromfile(str(RunDir(run).junit))
    completion = next(case for suite in suites for case in suite if case.name == "run completed")
    assert isinstance(completion.result[0], Failure)


def test_killed_run_without_checker_output_still_reports(tmp_path: Path) -> None:
    """No summary.json, no series/probe.csv, last lines of history and events cut mid-line."""
    run = make_run(tmp_path / "killed", duration_s=40, partial=True, cut_at_s=22.5, write_summary=False,
                   write_probe_series=False)
    for path in (RunDir(run).history, RunDir(run).events):
        path.write_bytes(path.read_bytes()[:-9])
    page = build_report(run).read_text()
    assert "PARTIAL" in page and "UNKNOWN" in page
    assert "derived from history.csv" in page
    assert "unreadable line(s) in events.jsonl" in page
    assert page.count("data:image/png;base64,") == len(PLOTS)
    suites = JUnitXml.fromfile(str(RunDir(run).junit))
    slo_cases = [case for suite in suites for case in suite if case.classname.endswith(".slo")]
    assert slo_cases and all(isinstance(case.result[0], Skipped) for case in slo_cases)


def test_failover_that_never_recovered(tmp_path: Path) -> None:
    """The checker leaves unavailable_end_s null when no write was acknowledged after the last failure."""
    run = make_run(tmp_path / "stuck", duration_s=40)
    summary = json.loads(RunDir(run).summary.read_text())
    summary["failover"][0]["unavailable_end_s"] = None
    RunDir(run).summary.write_text(json.dumps(summary))
    page = build_report(run).read_text()
    assert "not recovered" in page
    assert page.count("data:image/png;base64,") == len(PLOTS)


def test_summary_of_a_run_that_measured_nothing(tmp_path: Path) -> None:
    """A run that died early: the checker writes nulls where it could not measure, and fails those SLOs."""
    run = make_run(tmp_path / "early", duration_s=30, partial=True, cut_at_s=5.5)
    summary = json.loads(RunDir(run).summary.read_text())
    summary["throughput"] = {"baseline_ops_per_s": None, "during_fault_ops_per_s": None,
                             "recovered_ops_per_s": None, "by_driver": {}}
    summary["latency_ms"] = {"p50": None, "p90": None, "p99": None, "p999": None, "max": None}
    summary["failover"] = [{"fault_id": "0.0", "unavailable_s": 0.0, "unavailable_start_s": None,
                            "unavailable_end_s": None, "detected_s": None, "promoted_s": None, "new_primary": None}]
    summary["slo"] = [{"name": "max_p99_ms", "limit": 50, "value": None, "pass": False}]
    summary["verdict"] = "fail"
    RunDir(run).summary.write_text(json.dumps(summary))
    page = build_report(run).read_text()
    assert "PARTIAL" in page and ">FAIL<" in page
    case = next(c for suite in JUnitXml.fromfile(str(RunDir(run).junit)) for c in suite if c.name == "max_p99_ms")
    assert isinstance(case.result[0], Failure) and "could not be measured" in case.result[0].message


def test_directory_with_only_meta_reports_without_crashing(tmp_path: Path) -> None:
    RunDir(tmp_path / "empty").create().update_meta(run_id="empty", status="running")
    page = build_report(tmp_path / "empty").read_text()
    assert "PARTIAL" in page and "nothing to plot" in page
    assert not list((tmp_path / "empty" / "plots").glob("*.png"))


def test_probe_series_is_rebuilt_from_history_when_missing(tmp_path: Path) -> None:
    """Without series/probe.csv the report plots the probe from history.csv, and gets the same seconds."""
    run = make_run(tmp_path / "run", duration_s=30)
    recorded = pd.read_csv(RunDir(run).series("probe")).set_index("t_s")
    RunDir(run).series("probe").unlink()
    loaded = load_run(run)
    derived = loaded.series["probe"].set_index("t_s")
    assert "derived from history.csv" in " ".join(loaded.notes["plots"])
    common = recorded.index.intersection(derived.index)
    assert len(common) >= 25
    assert (derived.loc[common, ["ok", "fail", "info"]] == recorded.loc[common, ["ok", "fail", "info"]]).all().all()
    assert np.allclose(derived.loc[common, "p50_ms"], recorded.loc[common, "p50_ms"], rtol=0.05, equal_nan=True)


def test_load_run_reads_faults_and_role_changes(lossy_run: Path) -> None:
    run = load_run(lossy_run)
    assert [(f.fault_id, f.kind, f.target, f.start_s, f.end_s) for f in run.faults] == [
        ("0.0", "pod-kill", "redis-0", 16.0, 24.0)]
    assert [m.label for m in run.markers if m.kind == "primary-change"] == ["primary → redis-1"]
    assert list(run.series) == ["probe", "locust", "redis-benchmark"]


def test_report_reads_what_the_checker_writes(tmp_path: Path) -> None:
    """The real checker judges the synthetic raw data; the report shows its numbers, not the generator's."""
    from harness.checker import analyze

    run = make_run(tmp_path / "run", duration_s=40, lost_writes=2, write_summary=False, write_probe_series=False)
    summary = analyze(run)
    page = build_report(run).read_text()
    assert summary["writes"]["lost"] == 2 and summary["verdict"] == "fail"
    assert f"{summary['failover'][0]['unavailable_s']:.2f} s" in page
    cases = {case.name for suite in JUnitXml.fromfile(str(RunDir(run).junit)) for case in suite}
    assert cases == {s["name"] for s in summary["slo"]} | {c["name"] for c in summary["checks"]}
    assert {"run completed", "probe", "driver locust", "driver redis-benchmark"} <= cases
    assert page.count("data:image/png;base64,") == len(PLOTS)


@pytest.mark.skipif(not SCHEMA.exists(), reason="docs/summary.schema.json is not written yet")
def test_synthetic_summaries_follow_the_schema(lossy_run: Path, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    partial = make_run(tmp_path / "partial", duration_s=30, partial=True)
    early = make_run(tmp_path / "early", duration_s=30, partial=True, cut_at_s=5.5)
    for run in (lossy_run, partial, early):
        jsonschema.validate(json.loads(RunDir(run).summary.read_text()), schema)


# --------------------------------------------------------------------------- compare and aggregate


def _runs(root: Path, levels: list[float], **kwargs) -> list[Path]:
    return [make_run(root / f"run-{i}", duration_s=30, throughput=level, seed=i, **kwargs)
            for i, level in enumerate(levels)]


def test_identical_runs_do_not_regress(tmp_path: Path) -> None:
    a = make_run(tmp_path / "a", duration_s=30, seed=3)
    b = make_run(tmp_path / "b", duration_s=30, seed=3)
    result = compare([a], [b])
    assert not result.regressed
    assert {m.verdict for m in result.metrics} == {"ok"}
    assert "No regression" in result.to_text()


def test_throughput_cut_by_half_is_flagged(tmp_path: Path) -> None:
    base = make_run(tmp_path / "base", duration_s=30, throughput=2000, seed=3)
    half = make_run(tmp_path / "half", duration_s=30, throughput=1000, seed=3)
    result = compare([base], [RunDir(half).summary])  # a run directory and a summary file
    assert result.regressed
    verdicts = {m.name: m for m in result.metrics}
    assert verdicts["throughput.baseline"].verdict == "regressed"
    assert -0.55 < verdicts["throughput.baseline"].change < -0.45
    assert verdicts["latency.p99"].verdict == "ok"
    markdown = result.to_markdown()
    assert markdown.startswith("### REGRESSION") and "| throughput.baseline |" in markdown
    assert "**regressed**" in markdown


def test_repeated_noisy_runs_within_threshold_are_not_flagged(tmp_path: Path) -> None:
    base = _runs(tmp_path / "base", [2000, 2100, 1900, 2050, 1950])
    current = _runs(tmp_path / "current", [1900, 1950, 2080, 1850, 2000])
    result = compare(base, current)
    assert not result.regressed, result.to_text()
    assert result.n_baseline == result.n_current == 5


def test_repeated_runs_separate_noise_from_regression(tmp_path: Path) -> None:
    """Medians 12.5 % apart: past the 10 % threshold, but the runs overlap, so it is noise; half is not."""
    base = _runs(tmp_path / "base", [1000, 2000, 3000, 2100, 1900])
    noisy = _runs(tmp_path / "noisy", [900, 1700, 2900, 1750, 2950])
    verdict = {m.name: m for m in compare(base, noisy).metrics}["throughput.baseline"]
    assert verdict.change < -0.10 and verdict.verdict == "not significant" and verdict.p_value > 0.05
    single = {m.name: m for m in compare([base[1]], [noisy[1]]).metrics}["throughput.baseline"]
    assert single.verdict == "regressed"  # one run a side cannot tell noise apart

    (tmp_path / "halved").mkdir()
    halved = _runs(tmp_path / "halved", [500, 1000, 1500, 1050, 950])
    result = compare([tmp_path / "base"], [tmp_path / "halved"])  # directories of repeated runs
    verdict = {m.name: m for m in result.metrics}["throughput.baseline"]
    assert result.regressed and verdict.verdict == "regressed" and verdict.p_value < 0.05
    assert len(halved) == result.n_current == 5


def test_thresholds_are_configurable_and_checked(tmp_path: Path) -> None:
    base = make_run(tmp_path / "base", duration_s=30, throughput=2000, seed=3)
    lower = make_run(tmp_path / "lower", duration_s=30, throughput=1700, seed=3)
    assert compare([base], [lower]).regressed  # -15 % against the default 10 %
    assert not compare([base], [lower], thresholds={"throughput.baseline": 0.2, "throughput.recovered": 0.2,
                                                    "throughput.during_fault": 0.3}).regressed
    with pytest.raises(ValueError, match="unknown metric"):
        compare([base], [lower], thresholds={"thruput": 0.2})
    assert parse_thresholds(["throughput.baseline=20%", "latency.p99=0.5"]) == {"throughput.baseline": 0.2,
                                                                                "latency.p99": 0.5}
    with pytest.raises(ValueError, match="unknown metric"):
        parse_thresholds(["p99=10%"])


def test_lost_writes_appearing_is_a_regression(tmp_path: Path) -> None:
    clean = make_run(tmp_path / "clean", duration_s=30, seed=3)
    lossy = make_run(tmp_path / "lossy", duration_s=30, seed=3, lost_writes=2)
    verdict = {m.name: m for m in compare([clean], [lossy]).metrics}["lost_writes"]
    assert verdict.verdict == "regressed" and verdict.change == float("inf")


def test_aggregate_reports_median_and_spread(tmp_path: Path) -> None:
    runs = _runs(tmp_path, [1000, 2000, 3000, 2100, 1900])
    result = aggregate_runs([tmp_path])
    baselines = [json.loads(RunDir(r).summary.read_text())["throughput"]["baseline_ops_per_s"] for r in runs]
    spread = result.metrics["throughput.baseline"]
    assert spread.n == 5 and spread.median == pytest.approx(np.median(baselines))
    assert spread.min == min(baselines) and spread.max == max(baselines)
    assert spread.iqr == pytest.approx(np.percentile(baselines, 75) - np.percentile(baselines, 25))
    assert "unavailable_s[0.0]" in result.metrics
    assert result.to_text().startswith("5 runs (5 pass)")
    assert "| throughput.baseline | 5 |" in result.to_markdown()


def test_two_faults_report_failover_per_fault(tmp_path: Path) -> None:
    run = make_run(tmp_path / "two", duration_s=60, faults=[SyntheticFault(15, 8, unavailable_s=2.0),
                                                            SyntheticFault(38, 8, unavailable_s=4.0)])
    page = build_report(run).read_text()
    summary = json.loads(RunDir(run).summary.read_text())
    assert [f["new_primary"] for f in summary["failover"]] == ["redis-1", "redis-2"]
    assert "1.0 pod-kill redis-1" in page
    assert compare([run], [run]).metrics[-2].name == "unavailable_s[1.0]"


def test_lost_writes_are_their_own_series_per_second_by_acknowledging_pod(tmp_path: Path) -> None:
    """The checker's lost.csv counts exactly the lost writes, per second and pod, and the throughput and
    availability plots draw one series per pod from it."""
    from harness.checker import analyze
    from harness.report.plots import availability_figure, throughput_figure

    run = make_run(tmp_path / "run", duration_s=40, lost_writes=5, write_summary=False, write_probe_series=False)
    summary = analyze(run)
    lost = pd.read_csv(run / "lost.csv")
    assert int(lost["lost"].sum()) == summary["writes"]["lost"] == 5
    history = pd.read_csv(run / "history.csv")
    final = pd.read_csv(run / "final.csv")
    absent = set(final.loc[final["present"].astype(str).isin(["0", "False", "false"]), "key"])
    acks = history[(history["type"] == "ok") & (history["f"] == "write") & history["key"].isin(absent)]
    acks = acks.drop_duplicates("key")
    expected = acks.assign(t_s=acks["t_ns"] // 1_000_000_000).groupby(["t_s", "pod"]).size()
    assert {(int(t), p): int(n) for (t, p), n in expected.items()} == \
        {(int(r.t_s), r.pod): int(r.lost) for r in lost.itertuples()}
    data = load_run(run)
    for figure in (throughput_figure(data), availability_figure(data)):
        labels = {line.get_label() for ax in figure.axes for line in ax.get_lines()}
        assert {f"acknowledged, later lost ({pod})" for pod in lost["pod"]} <= labels


def test_an_slo_that_could_not_be_evaluated_is_not_shown_as_failed():
    """The checker writes `pass: false, status: not-evaluated` for an SLO it could not judge: the
    report's SLO table said fail while its SLO card said not evaluated (one slo_status now)."""
    from harness.report.html import _slo_rows

    rows = _slo_rows({"slo": [{"name": "max_p99_ms", "limit": 50, "value": None, "pass": False,
                               "status": "not-evaluated"},
                              {"name": "max_lost_writes", "limit": 0, "value": 3, "pass": False},
                              {"name": "min_baseline_ops_per_s", "limit": 100, "value": 900, "pass": True}]})
    assert [r["status"] for r in rows] == ["not evaluated", "fail", "pass"]
