"""`redis-harness lint`: configs loaded by the real servers of every version the project runs.

Outcomes known in advance from each server's config table:
- the blog-style ConfigMap (tests/fixtures/lint/) is rejected by all three at redis.conf line 13,
  `evict-on-expire 1`, its first invented directive: `bind`, `supervised systemd` and the
  `*-ziplist-*` names before it are valid everywhere (6.2 has them; 7.0 and Valkey 9.1 keep them as
  aliases of `*-listpack-*`);
- the bundled manifests' ConfigMaps are accepted by Redis 7.0 (what the manifests run) and Valkey
  9.1; Redis 6.2 rejects `enable-debug-command` (new in 7.0) and, in sentinel.conf, a monitor host
  it cannot resolve (6.2 resolves at load; the lint's network namespace has no DNS).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import lint
from harness.cli import main
from harness.lint import LintResult, lint_config, lint_file
from harness.platforms.kubernetes.objects import topology_objects
from tests.conftest import needs_redis
from tests.test_kubernetes_manifests import script_conf, scenario_topologies, yaml_docs

ROOT = Path(__file__).resolve().parents[1]
BLOG = ROOT / "tests" / "fixtures" / "lint" / "blog-configmap.yaml"
BUNDLED_CONFIGMAPS = sorted((ROOT / "manifests").rglob("configmap-redis-config.yaml"))
BAD_DIRECTIVE = "Bad directive or wrong number of arguments"

pytestmark = needs_redis


def by_server(results: list[LintResult]) -> dict[str, LintResult]:
    return {r.server: r for r in results}


def server_pids_under(folder: Path) -> list[int]:
    """Processes whose command line names `folder`: a lint server that outlived its call."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(folder) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_blog_configmap_rejected_at_first_invented_directive_by_every_version(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    results = lint_file(BLOG)
    assert [r.server for r in results] == list(lint.SERVERS)
    versions = {r.server: r.version for r in results}
    assert versions == {"system": "Redis 7.0.15", "redis-6.2": "Redis 6.2.5", "valkey-9.1": "Valkey 9.1.2"}
    for result in results:
        assert result.source == "blog-configmap.yaml: redis.conf" and result.kind == "redis"
        assert (result.accepted, result.line, result.file_line) == (False, 13, 25), result
        assert (result.directive, result.message) == ("evict-on-expire 1", BAD_DIRECTIVE)
    assert BLOG.read_text().splitlines()[24].strip() == "evict-on-expire 1"  # file line 25 is that line
    assert server_pids_under(tmp_path) == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", BUNDLED_CONFIGMAPS, ids=lambda p: p.parent.name)
def test_bundled_configmaps_accepted_by_the_versions_they_run_on(path):
    results = lint_file(path)
    for result in results:
        if result.server != "redis-6.2":
            assert result.accepted is True, lint.describe(result)
        elif result.kind == "redis":
            assert (result.accepted, result.directive, result.message) == (False, "enable-debug-command yes", BAD_DIRECTIVE)
        else:
            assert result.accepted is False and result.directive.startswith("sentinel monitor mymaster redis-0.")
            assert result.message == "Can't resolve instance hostname."
    assert {r.kind for r in results} == ({"redis", "sentinel"} if "sentinel.conf" in path.read_text() else {"redis"})


@pytest.mark.parametrize("name", sorted(scenario_topologies(with_config=True)))
def test_rendered_confs_accepted_by_7_0_and_valkey(tmp_path, name):
    """What a pod actually runs: the ConfigMap after the start script (password, announce, replicaof)."""
    topology = scenario_topologies()[name]
    config = next(o for o in topology_objects(topology) if o["metadata"]["name"] == "redis-config")["data"]
    confs = {"redis": script_conf(tmp_path / "r", "redis-start.sh", config, {"TOPOLOGY": topology.kind, "POD_NAME": "redis-1"})}
    if "sentinel.conf" in config:
        confs["sentinel"] = script_conf(tmp_path / "s", "sentinel-start.sh", config, {"POD_NAME": "sentinel-1"})
    for kind, text in confs.items():
        for result in lint_config(text, kind, ["system", "valkey-9.1"]):
            assert result.accepted is True, f"{lint.describe(result)}\n{text}"


def test_a_config_file_and_exit_codes(tmp_path, capsys):
    good = tmp_path / "redis.conf"
    good.write_text("port 6379\nmaxmemory 64mb\n")
    bad = tmp_path / "sentinel.conf"
    bad.write_text("port 26379\nsentinel monitor mymaster 127.0.0.1 6379 2\nsentinel dsn-role master\n")
    assert main(["lint", str(good)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"redis.conf [redis] {v}: accepted" for v in ("Redis 7.0.15", "Redis 6.2.5", "Valkey 9.1.2")]
    assert main(["lint", "--server", "system", str(good), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("sentinel.conf [sentinel] Redis 7.0.15: REJECTED at line 3: 'sentinel dsn-role master'")


def test_lint_config_result_described_at_its_text_line():
    """The upgrade drill lints text (no file): a rejection names the text's line, and no file line."""
    text = "port 6379\nmaxmemory 64mb\nevict-on-expire 1\n"
    [result] = lint_config(text, "redis", ["system"], source="drill: redis.conf")
    assert (result.accepted, result.line, result.file_line) == (False, 3, 3), result
    assert lint.describe(result) == ("drill: redis.conf [redis] Redis 7.0.15: REJECTED at line 3: "
                                     f"'evict-on-expire 1': {BAD_DIRECTIVE}")


@pytest.mark.parametrize("argv, problem", [
    (["lint", "/nonexistent/redis.conf"], "/nonexistent/redis.conf: cannot read"),
    (["lint", str(ROOT / "manifests" / "standalone" / "kustomization.yaml")], "no ConfigMap with a data key ending in .conf"),
    (["lint", "--server", "redis-9", str(BLOG)], "unknown server 'redis-9'"),
])
def test_bad_input_exits_2_naming_the_problem(argv, problem, capsys):
    assert main(argv) == 2
    assert problem in capsys.readouterr().err


def test_bad_yaml_names_the_file(tmp_path, capsys):
    broken = tmp_path / "cm.yaml"
    broken.write_text("kind: ConfigMap\ndata:\n  redis.conf: |\n    port 1\n bad: [\n")
    assert main(["lint", str(broken)]) == 2
    assert f"{broken}: not valid YAML" in capsys.readouterr().err


def test_shipped_yaml_parses_as_the_lint_reads_it():
    """The lint's own YAML walk (it keeps line numbers) finds what yaml.safe_load finds."""
    for path in BUNDLED_CONFIGMAPS:
        data = yaml_docs(path.read_text())[0]["data"]
        assert {s.label.split(": ")[1]: s.text for s in lint.read_sources(path)} == data
