"""What the store's commands hand to people and CI: exit codes, Markdown, JUnit, the trend page,
Prometheus / OpenMetrics text (parsed back with prometheus-client's own parsers), and the CI
examples in docs/ci (validated against GitHub's and GitLab's published schemas)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import junitparser
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from harness.cli import main
from synthetic_nights import Night, write_nights

ROOT = Path(__file__).resolve().parent.parent


def record_nights(tmp_path: Path, nights: list[Night]) -> tuple[Path, list[list[Path]]]:
    dirs = write_nights(tmp_path / "runs", nights)
    store = tmp_path / "store"
    for night in dirs:
        assert main(["record", *map(str, night), "--store", str(store)]) == 0
    return store, dirs


def test_trend_exits_0_on_steady_nights_and_1_on_a_planted_drop_with_markdown_and_junit(tmp_path, capsys):
    store, _ = record_nights(tmp_path, [Night()] * 8)
    assert main(["trend", "--store", str(store)]) == 0
    assert "No regression in sentinel-primary-kill" in capsys.readouterr().out

    write = write_nights(tmp_path / "drop", [Night(throughput_factor=0.85)])  # a ninth night, 15% slower
    night9 = write[0][0]
    meta = json.loads((night9 / "meta.json").read_text())
    meta["start_wall"] += 8 * 86_400
    (night9 / "meta.json").write_text(json.dumps(meta))
    summary = json.loads((night9 / "summary.json").read_text())
    summary["run_id"] = "20990101T000000Z-sentinel-primary-kill"
    (night9 / "summary.json").write_text(json.dumps(summary))
    assert main(["record", str(night9), "--store", str(store)]) == 0
    md, junit = tmp_path / "v.md", tmp_path / "v.xml"
    assert main(["trend", "--store", str(store), "--markdown", str(md), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION in sentinel-primary-kill" in out and "throughput.baseline" in out
    table = md.read_text()
    assert re.search(r"\| throughput\.baseline \| .* \| bootstrap CI \| .* \| \*\*regressed\*\* \|", table)
    xml = junitparser.JUnitXml.fromfile(str(junit))
    failed = [case.name for suite in xml for case in suite if any(isinstance(r, junitparser.Failure)
                                                                   for r in case.result)]
    assert "throughput.baseline" in failed and "latency.p50" not in failed


def test_bad_input_exits_2(tmp_path, capsys):
    store, _ = record_nights(tmp_path, [Night()] * 2)
    assert main(["trend", "--store", str(tmp_path / "missing")]) == 2
    assert main(["trend", "--store", str(store), "--since", "the other day"]) == 2
    assert main(["trend", "--store", str(store), "--metric", "throughput.max"]) == 2
    assert main(["trend", "--store", str(store), "--scenario", "no-such-scenario"]) == 2
    assert main(["record", str(tmp_path / "nowhere"), "--store", str(store)]) == 2
    not_a_store = tmp_path / "junk.sqlite"
    not_a_store.write_text("this is not SQLite, just text long enough to fill a header" * 4)
    assert main(["trend", "--store", str(not_a_store)]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["record", str(tmp_path)])  # no --store
    assert exc.value.code == 2


def test_trend_page_is_self_contained_with_points_linked_to_reports(tmp_path, capsys):
    nights = [Night()] * 6 + [Night(version="redis 7.2.4")] * 2
    dirs = write_nights(tmp_path / "runs", nights)
    (dirs[-1][0] / "report.html").write_text("<html>the run's report</html>")  # only this run kept its report
    store = tmp_path / "store.sqlite"
    for night in dirs:
        main(["record", *map(str, night), "--store", str(store)])
    out = tmp_path / "site"
    assert main(["trend", "--store", str(store), "--out", str(out)]) == 0
    page = (out / "trend.html").read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page must not load anything from elsewhere"
    images = re.findall(r'<img src="data:image/png;base64,', page)
    assert len(images) == 8  # one chart per metric: 3 throughput, 3 latency, 1 failover, lost writes
    first_map = page.split("<map", 2)[1].split("</map>")[0]
    assert first_map.count("<area") == 8  # every run is a point on the chart
    link = "../runs/night-0007-0/report.html"
    assert f'href="{link}"' in first_map and (out / link).resolve().is_file()
    assert "server_versions: redis 7.0.15 -&gt; redis 7.2.4" in page
    assert {p.name for p in out.iterdir()} == {"trend.html", "verdicts.md", "verdicts.json", "junit.xml"}


def test_record_writes_prometheus_and_openmetrics_that_prometheus_client_parses(tmp_path):
    dirs = write_nights(tmp_path / "runs", [Night()] * 2)
    prom, om = tmp_path / "nightly.prom", tmp_path / "nightly.om"
    assert main(["record", *map(str, dirs[0] + dirs[1]), "--store", str(tmp_path / "s"), "--prom", str(prom),
                 "--openmetrics", str(om)]) == 0
    latest = json.loads((dirs[1][0] / "summary.json").read_text())  # the later run of the key is reported
    for families in (list(parse_prometheus(prom.read_text())), list(parse_openmetrics(om.read_text()))):
        samples = {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in
                                         ("scenario", "topology", "platform")))): s for f in families
                   for s in f.samples}
        key_labels = {k: v for k, v in next(iter(samples.values())).labels.items()
                      if k in ("scenario", "topology", "platform")}
        assert key_labels["scenario"] == "sentinel-primary-kill" and key_labels["platform"] == "local"
        assert len(key_labels["topology"]) == 12
        tput = samples[("redis_harness_throughput_ops_per_second", (("phase", "baseline"),))].value
        assert tput == latest["throughput"]["baseline_ops_per_s"]
        p99 = samples[("redis_harness_latency_seconds", (("percentile", "99"),))].value
        assert p99 == pytest.approx(latest["latency_ms"]["p99"] / 1000)
        assert ("redis_harness_latency_seconds", (("percentile", "99.9"),)) in samples
        fault = samples[("redis_harness_unavailable_seconds", (("fault_id", "0.0"),))].value
        assert fault == latest["failover"][0]["unavailable_s"]
        assert samples[("redis_harness_lost_writes", ())].value == 0
        assert samples[("redis_harness_run_passed", ())].value == 1
    assert om.read_text().endswith("# EOF\n")


@pytest.mark.parametrize("path, schema", [("docs/ci/github-actions-nightly.yml", "vendor.github-workflows"),
                                          ("docs/ci/gitlab-ci-nightly.yml", "vendor.gitlab-ci")])
def test_ci_examples_validate_against_their_published_schemas(path, schema, tmp_path):
    def validate(file: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(file)],
                              capture_output=True, text=True)

    done = validate(ROOT / path)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"  # the validator does catch a mistake: a misspelt key
    text = (ROOT / path).read_text()
    broken.write_text(text.replace("timeout-minutes:", "timeout-minuts:").replace("  timeout: 1h", "  timeuot: 1h"))
    assert validate(broken).returncode != 0
    assert "redis-harness trend --store results/" in text and "--repeat 5" in text
