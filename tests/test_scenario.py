"""Scenario validation: bundled files pass; broken ones fail with the file, field path and problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.errors import ScenarioError
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "scenarios").glob("*.yaml"))

GOOD = {
    "name": "t",
    "duration_s": 30,
    "topology": {"kind": "sentinel", "replicas": 2, "sentinels": 3, "quorum": 2},
    "faults": [{"kind": "pod-kill", "target": {"role": "primary"}, "at_s": 5, "duration_s": 5}],
}


def write(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def patched(**changes) -> dict:
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[leaf] = value
    return data


def test_bundled_scenarios_are_valid():
    assert len(BUNDLED) >= 4
    for path in BUNDLED:
        assert load_scenario(path).name == path.stem


def test_good_file_loads(tmp_path):
    scenario = load_scenario(write(tmp_path, GOOD))
    assert scenario.topology.pod_names() == ["redis-0", "redis-1", "redis-2", "sentinel-0", "sentinel-1", "sentinel-2"]
    assert scenario.faults[0].firings() == [(5.0, 10.0)]


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (patched(topology__colour="red"), "topology.colour", "unknown field"),
        (patched(duration_s="long"), "duration_s", "valid number"),
        (patched(topology__quorum=5), "topology.quorum", "quorum 5 is larger than the sentinel count 3"),
        (patched(topology__kind="cluster", topology__shards=2), "topology.shards", "at least 3 shards"),
        (patched(faults__0__target={"role": "sentinel"}, topology__kind="standalone", topology__replicas=0),
         "faults.0.target", "has no sentinels"),
        (patched(faults__0__kind="meteor"), "faults.0", "does not match any of the expected tags"),
        (patched(faults__0__at_s=40), "faults.0.at_s", "after the run ends"),
        (patched(faults__0__at_s=1), "faults.0.at_s", "less baseline than the throughput baseline needs"),
        (patched(faults__0__target={"pod": "redis-9"}), "faults.0.target", "target pod 'redis-9' is not in this topology"),
        (patched(faults__0__target={}), "faults.0.target", "exactly one of `role` or `pod`"),
        (patched(topology__min_replicas_to_write=3), "topology.min_replicas_to_write", "exceeds replicas 2"),
    ],
)
def test_bad_input_names_field_and_problem(tmp_path, data, field, problem):
    path = write(tmp_path, data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message
    assert problem in message
    assert f" {field}: " in message


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(write(tmp_path, "name: [unclosed"))
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.yaml")


def test_validate_cli_exit_codes(tmp_path):
    bad = write(tmp_path, patched(topology__quorum=4))
    ok = subprocess.run([sys.executable, "-m", "harness.cli", "validate", *map(str, BUNDLED)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    broken = subprocess.run([sys.executable, "-m", "harness.cli", "validate", str(bad)], capture_output=True, text=True)
    assert broken.returncode == 2
    assert "topology.quorum: quorum 4 is larger than the sentinel count 3" in broken.stderr


def test_run_refuses_bad_file_before_deploying(tmp_path):
    bad = write(tmp_path, patched(topology__quorum=4))
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(bad), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert not (tmp_path / "out").exists()


def test_published_json_schema_is_current():
    """docs/scenario.schema.json (for editors and CI linting) is generated from the model; keep it in step."""
    import json

    from harness.scenario import Scenario

    published = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    assert published == json.loads(json.dumps(Scenario.model_json_schema())), (
        "regenerate: python -c \"import json; from harness.scenario import Scenario; "
        "open('docs/scenario.schema.json','w').write(json.dumps(Scenario.model_json_schema(), indent=1)+'\\n')\""
    )


def test_set_indexes_a_list_by_number(tmp_path):
    """`--set faults.0.at_s=8` changes the first fault (it used to crash with a TypeError)."""
    scenario = load_scenario(write(tmp_path, GOOD), {"faults.0.at_s": 8, "faults.0.target.role": "replica"})
    assert scenario.faults[0].at_s == 8
    assert scenario.faults[0].target.role == "replica"
