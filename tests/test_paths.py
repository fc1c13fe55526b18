"""Paths are made absolute where they enter, so child processes with another cwd find the same files."""

from __future__ import annotations

import os
from pathlib import Path

from harness import cli
from harness.deployment import state_root
from harness.platforms.local.platform import LocalPlatform
from harness.rundir import RunDir, fresh_run_path


def test_relative_inputs_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_HARNESS_STATE", "rel/state")
    monkeypatch.setenv("REDIS_HARNESS_DEPLOYMENT", "rel/state/x/deployment.json")
    assert state_root() == tmp_path / "rel" / "state"
    assert LocalPlatform(root=Path("rel/other")).root == tmp_path / "rel" / "other"
    assert RunDir("reports/r1").path == tmp_path / "reports" / "r1"
    args = cli.build_parser().parse_args(["run", "scenarios/x.yaml", "--out", "runs/a"])
    cli.absolute_inputs(args)
    assert args.out == str(tmp_path / "runs" / "a")
    assert args.scenario == "scenarios/x.yaml"  # read at once, in this process: shown as the user typed it
    assert os.environ["REDIS_HARNESS_DEPLOYMENT"] == str(tmp_path / "rel/state/x/deployment.json")
    args = cli.build_parser().parse_args(["compare", "a", "b", "--markdown", "d.md"])
    cli.absolute_inputs(args)
    assert (args.baseline, args.current, args.markdown) == tuple(str(tmp_path / n) for n in ("a", "b", "d.md"))


def test_default_run_dirs_never_collide(tmp_path):
    first = fresh_run_path(tmp_path, "20260101T000000Z-s")
    first.mkdir()
    assert fresh_run_path(tmp_path, "20260101T000000Z-s") == tmp_path / "20260101T000000Z-s-2"
